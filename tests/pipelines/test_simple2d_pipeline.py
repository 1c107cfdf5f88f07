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


@pytest.mark.slow
def test_three_variants_train_and_report(params):
    outputs = run_in_memory(create_pipeline(), parameter_feed(params))
    expected_n_params = {"linear": 3, "mlp": 337, "polar_linear": 3}
    for variant, n_params in expected_n_params.items():
        record = outputs[f"simple2d.{variant}.report_entry"]
        assert record.n_params == record.n_params_model == n_params
        assert record.training.epochs == params["simple2d"]["training"]["epochs"]
        assert record.params()["n_params"] == n_params  # MLflow's params
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


def test_each_variant_preprocesses_its_raw_points_into_what_its_model_sees():
    pipeline = create_pipeline()
    [polar_node] = [
        n for n in pipeline.nodes if n.name == "simple2d.polar_linear.preprocess_inputs"
    ]
    assert set(polar_node.inputs) == {
        "simple2d.generated_train",
        "simple2d.generated_valid",
    }
    consumers = {
        n.name for n in pipeline.nodes if set(n.inputs) & set(polar_node.outputs)
    }
    assert consumers == {
        "simple2d.polar_linear.train_model",
        "simple2d.polar_linear.evaluate_model",
    }
    # the served model gets the raw (x, y) points and applies the same preprocessing
    [package] = [
        n for n in pipeline.nodes if n.name == "simple2d.polar_linear.package_model"
    ]
    assert "simple2d.generated_valid" in package.inputs


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
            "preprocess_inputs",  # (x, y) or polar (r, phi)
            "resolve_training",
            "train_model",
        ]
    )


@pytest.mark.slow
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
    assert outputs["simple2d.polar_mlp.report_entry"].n_params == (2 * 8 + 8) + (8 + 1)
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
        (
            "training.epochs",
            0,
            r"\nepochs\n  Input should be greater than or equal to 1",
        ),
        (
            "training.batch_size",
            -1,
            r"\nbatch_size\n  Input should be greater than or equal to 1",
        ),
        ("training.lr", 0.0, r"\nlr\n  Input should be greater than 0 .*=0\.0,"),
        (
            "training.epochs",
            "ten",
            r"\nepochs\n  Input should be a valid integer .*='ten'",
        ),
        ("training.device", "tpu", r"\ndevice\n  String should match pattern .*='tpu'"),
        (
            "mlp.model.name",
            "resnet",
            r"\nname\n  Input should be 'linear', 'mlp' or 'cnn' .*='resnet'",
        ),
        (
            "generator.n_valid",
            0,
            r"\nn_valid\n  Input should be greater than or equal to 2",
        ),
    ],
)
def test_kedro_validates_parameters_before_running_naming_the_key(
    params, key, value, message
):
    pipelines = {"simple2d": create_pipeline()}
    assert_rejected_before_running(pipelines, params, f"simple2d.{key}", value, message)


def test_a_variant_with_unknown_features_is_refused_when_the_pipeline_is_built():
    with pytest.raises(ValueError, match="features='xyz'; choose one of: .*polar"):
        create_pipeline({"mlp": "xyz"})
