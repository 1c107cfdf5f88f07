"""The 2D pipeline run on an in-memory catalog (no files, no MLflow)."""

import copy

import pytest
from matplotlib.figure import Figure

from pytorch_intro.pipelines.simple2d import VARIANTS, create_pipeline
from tests.conftest import (
    assert_rejected_before_running,
    load_parameters,
    parameter_feed,
    run_in_memory,
    steps_by_variant,
)


@pytest.fixture(scope="module")
def params():
    return load_parameters("test")


def test_three_variants_train_and_report(params):
    outputs = run_in_memory(create_pipeline(), parameter_feed(params))
    expected_n_params = {"linear": 3, "mlp": 337, "polar_linear": 3}
    for variant, n_params in expected_n_params.items():
        summary = outputs[f"simple2d.{variant}.summary"]
        assert summary["n_params"] == n_params
        assert summary["epochs"] == params["simple2d"]["training"]["epochs"]
        metrics = outputs[f"simple2d.{variant}.metrics"]
        assert 0.0 <= metrics["val_accuracy"] <= 1.0
        assert metrics["n_samples"] == params["simple2d"]["generator"]["n_valid"]
        predictions = outputs[f"simple2d.{variant}.predictions"]
        assert (
            predictions["prediction"] == predictions["annotation"]
        ).mean() == pytest.approx(metrics["val_accuracy"])
        assert isinstance(outputs[f"simple2d.{variant}.learning_curves"], Figure)
        assert isinstance(outputs[f"simple2d.{variant}.decision_boundary"], Figure)
    # the MLP separates disc and ring even in two short epochs; the linear model cannot
    assert outputs["simple2d.mlp.metrics"]["val_accuracy"] > 0.9
    assert outputs["simple2d.linear.metrics"]["val_accuracy"] < 0.8


def test_polar_transform_is_its_own_step_feeding_only_the_polar_variant_and_report():
    pipeline = create_pipeline()
    [polar_node] = [
        n for n in pipeline.nodes if n.name == "simple2d.compute_polar_features"
    ]
    consumers = {
        n.name for n in pipeline.nodes if set(n.inputs) & set(polar_node.outputs)
    }
    assert consumers == {
        "simple2d.polar_linear.train_model",
        "simple2d.polar_linear.evaluate_model",
        "simple2d.polar_linear.summarize_run",
        "simple2d.polar_linear.plot_decision_boundary",
        "simple2d.describe_point_sets",  # the report's x-y / polar scatter
    }


def test_each_variant_is_a_namespace_of_the_same_template():
    pipeline = create_pipeline()
    steps = steps_by_variant(pipeline, "simple2d", VARIANTS)
    assert (
        steps["linear"]
        == steps["mlp"]
        == steps["polar_linear"]
        == [
            "collect_variant_results",
            "compute_confusion_matrix",
            "count_parameters_by_layer",
            "evaluate_model",
            "package_model",  # the model as users call it (x, y in)
            "plot_confusion_matrix",
            "plot_decision_boundary",
            "plot_learning_curves",
            "resolve_training",
            "summarize_run",
            "train_model",
        ]
    )


def test_a_fourth_variant_needs_only_a_parameters_block_and_a_name(params):
    params = copy.deepcopy(params)
    params["simple2d"]["polar_mlp"] = {
        "title": "MLP on polar features",
        "model": {
            "name": "mlp",
            "in_features": 2,
            "hidden_sizes": [8],
            "out_features": 1,
        },
    }
    pipeline = create_pipeline(variants=VARIANTS | {"polar_mlp": "polar"})
    outputs = run_in_memory(pipeline, parameter_feed(params))
    assert outputs["simple2d.polar_mlp.summary"]["n_params"] == (2 * 8 + 8) + (8 + 1)
    assert outputs["simple2d.polar_mlp.metrics"]["val_accuracy"] > 0.5
    assert isinstance(outputs["simple2d.polar_mlp.decision_boundary"], Figure)


def test_the_assignment_source_reads_files_and_generates_nothing():
    pipeline = create_pipeline(source="assignment")
    assert {
        "simple2d.assignment_train",
        "simple2d.assignment_valid",
    } <= pipeline.inputs()
    assert not any("generate" in n.name for n in pipeline.nodes)
    assert not pipeline.all_outputs() & {
        "simple2d.assignment_train",
        "simple2d.assignment_valid",
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("training.epochs", 0, "epochs must be an integer >= 1"),
        ("training.batch_size", -1, "batch_size must be an integer >= 1"),
        ("training.lr", 0.0, "lr must be a finite number > 0"),
        ("training.epochs", "ten", "epochs must be an integer, got 'ten'"),
        ("training.device", "tpu", "device='tpu' is not allowed"),
        (
            "mlp.model.name",
            "resnet",
            "name='resnet' is not allowed; choose one of: cnn, linear, mlp",
        ),
        ("generator.n_valid", 0, "n_valid must be an integer >= 2"),
    ],
)
def test_kedro_validates_parameters_before_running_naming_the_key(
    params, key, value, message
):
    pipelines = {"simple2d": create_pipeline()}
    assert_rejected_before_running(pipelines, params, f"simple2d.{key}", value, message)
