"""The MLflow models a run logs, its registry champions and the MLflow UI's fit.

On the shared default run of the test configuration (``finished_project``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pytorch_intro.data.lineage import digest
from pytorch_intro.data.mnist import read_canonical
from pytorch_intro.datasets import MNISTSubsetDataset, PointSetDataset
from pytorch_intro.models import load_checkpoint, model_from_checkpoint
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.pipelines.simple2d import VARIANTS as FEATURES
from pytorch_intro.training import predict_logits, to_tensors
from pytorch_intro.training.objectives import class_probabilities

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_PARAMS = {
    "simple2d.linear": 3,
    "simple2d.mlp": 337,
    "simple2d.polar_linear": 3,
    "digits.linear": 7850,
    "digits.mlp": 25450,
    "digits.cnn": 6218,
}


@pytest.fixture(scope="module")
def store(finished_project):
    uri = f"sqlite:///{finished_project / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    yield client, client.get_experiment_by_name("pytorch-intro")
    mlflow.set_tracking_uri(previous)


def _only_version(folder: Path, name: str) -> Path:
    [version] = folder.iterdir()
    return version / name


def _inputs(project: Path, problem: str) -> np.ndarray:
    """Real inputs as a user has them: digits 0..255, points (x, y)."""
    if problem == "digits":
        mnist = project / "data/01_raw/mnist"
        images = (
            read_canonical(mnist)["test"]["images"]
            if mnist.is_dir()
            else MNISTSubsetDataset().load()["images"]
        )
        return images[:300].astype(np.float32)
    folder = project / "data/01_raw/simple2d/generated/valid_points.npz"
    points = PointSetDataset(str(_only_version(folder, "valid_points.npz"))).load()
    return points["samples"].astype(np.float32)


def _in_process(project: Path, variant: str, inputs: np.ndarray) -> np.ndarray:
    """The trained network's class probabilities for raw ``inputs``, preprocessed
    as the pipeline preprocessed its training data."""
    problem, name = variant.split(".")
    folder = project / f"data/06_models/{problem}/{name}/model.pt"
    model = model_from_checkpoint(load_checkpoint(_only_version(folder, "model.pt")))
    features = "pixels" if problem == "digits" else FEATURES[name]
    samples, _ = to_tensors(preprocess(features, inputs), np.zeros(len(inputs)))
    return class_probabilities(predict_logits(model, samples)).numpy()


def test_each_variant_logs_a_model_that_reproduces_the_in_process_one(
    finished_project, store
):
    client, experiment = store
    models = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id], output_format="list"
    )
    by_variant = {client.get_run(m.source_run_id).info.run_name: m for m in models}
    assert set(by_variant) == set(N_PARAMS)
    for variant, model in by_variant.items():
        assert model.name == variant.replace(".", "-")
        assert model.params["n_params"] == str(N_PARAMS[variant])  # params copied
        metrics = {m.key: m.value for m in model.metrics}
        run = client.get_run(model.source_run_id)
        assert metrics["val_accuracy"] == run.data.metrics["val_accuracy"]
        assert "val_loss" in metrics
        # nothing in the model is a pickle: code as text, the network as .pt2
        folder = Path(mlflow.artifacts.download_artifacts(f"models:/{model.model_id}"))
        files = {p.name for p in folder.rglob("*") if p.is_file()}
        assert {"MLmodel", "mlflow_model.py", "program.pt2"} <= files
        assert not [f for f in files if re.search(r"\.(pkl|pickle|pt|pth)$", f)]

        problem = variant.split(".")[0]
        inputs = _inputs(finished_project, problem)
        loaded = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
        # the 2D models' signature names the columns: x, y
        answer = loaded.predict(
            inputs if problem == "digits" else pd.DataFrame(inputs, columns=["x", "y"])
        )
        expected = _in_process(finished_project, variant, inputs)
        assert np.array_equal(np.stack(answer["probabilities"]), expected), variant
        assert (answer["class"].to_numpy() == expected.argmax(axis=1)).all()
        assert np.array_equal(answer["probability"].to_numpy(), expected.max(axis=1))


DATASETS = {
    "simple2d": ("simple2d.generated_train", "simple2d.generated_valid"),
    "digits": ("digits.train_set", "digits.test_set"),
}


def _datasets(run) -> dict:
    """A run's MLflow datasets by context."""
    return {
        tag.value: entry.dataset
        for entry in run.inputs.dataset_inputs
        for tag in entry.tags
        if tag.key == "mlflow.data.context"
    }


def test_each_run_and_model_records_the_data_it_was_trained_and_evaluated_on(
    finished_project, store
):
    client, experiment = store
    models = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id], output_format="list"
    )
    valid = finished_project / "data/01_raw/simple2d/generated/valid_points.npz"
    points = PointSetDataset(str(_only_version(valid, "valid_points.npz"))).load()
    seen = {}
    for model in models:
        run = client.get_run(model.source_run_id)
        problem = run.data.tags["pipeline"]
        datasets = _datasets(run)
        assert len(run.inputs.dataset_inputs) == 2
        training, evaluation = datasets["training"], datasets["evaluation"]
        assert (training.name, evaluation.name) == DATASETS[problem]
        # the same data for every variant of a problem
        assert seen.setdefault(problem, evaluation.digest) == evaluation.digest
        source = json.loads(evaluation.source)
        if problem == "simple2d":
            assert evaluation.digest == digest(points["samples"], points["annotations"])
            assert source["uri"] == points["source"]  # the version it read
            assert source["generator.seed"] == "0"
        else:
            assert "MNIST" in source["source"]
            if source["source"].startswith("MNIST subset"):
                assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
            else:  # the canonical files, each with its checked sha256
                assert re.fullmatch(
                    r"[0-9a-f]{64}", source["t10k-labels-idx1-ubyte.gz"]
                )
        rows = len(points["annotations"]) if problem == "simple2d" else 500
        assert json.loads(evaluation.profile)["num_rows"] == rows  # conf/test
        # the model's metrics say what they were measured on
        linked = {m.key: (m.dataset_name, m.dataset_digest) for m in model.metrics}
        assert linked["val_accuracy"] == (evaluation.name, evaluation.digest)
        assert linked["train_loss"] == (training.name, training.digest)
        assert {m.step for m in model.metrics} == {int(run.data.params["epochs"])}
        assert model.tags["eval_dataset_digest"] == evaluation.digest
        # the run's history is not logged twice
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert len(history) == int(run.data.params["epochs"])
    for problem, eval_digest in seen.items():
        champion = client.get_model_version_by_alias(
            f"pytorch-intro-{problem}", "champion"
        )
        assert champion.tags["eval_dataset_digest"] == eval_digest
        assert champion.tags["eval_dataset"] == DATASETS[problem][1]


def test_the_best_model_of_each_problem_is_the_registered_champion(store):
    client, experiment = store
    [parent] = client.search_runs(
        [experiment.experiment_id], "attributes.run_name LIKE '__default__ %'"
    )
    for problem in ("simple2d", "digits"):
        champion = client.get_model_version_by_alias(
            f"pytorch-intro-{problem}", "champion"
        )
        children = client.search_runs(
            [experiment.experiment_id],
            f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' "
            f"and tags.pipeline = '{problem}'",
        )
        best = max(children, key=lambda r: r.data.metrics["val_accuracy"])
        assert champion.tags["variant"] == best.info.run_name
        decision = parent.data.tags[f"registry.{problem}"]
        assert decision.startswith(f"pytorch-intro-{problem} v{champion.version} (")
        assert "is now 'champion'" in decision


def test_the_mlflow_ui_fits_model_development(store):
    client, experiment = store
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    [parent] = parents
    # named after the pipeline and its start time
    assert re.fullmatch(
        r"__default__ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", parent.info.run_name
    )
    children = [r for r in runs if r not in parents]
    # each child run spans its variant, within the run; the variants train at
    # the same time (the project's runner), so their runs overlap
    for run in children:
        assert parent.info.start_time <= run.info.start_time <= run.info.end_time
        assert run.info.end_time <= parent.info.end_time, run.info.run_name
    assert len({run.info.end_time for run in children}) == len(children)
    for run in runs:  # which process recorded it: for closing orphaned runs
        assert run.data.tags["pytorch_intro.pid"].isdigit()
        assert run.data.tags["pytorch_intro.host"]
