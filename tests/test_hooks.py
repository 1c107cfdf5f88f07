"""The variant-runs hook on a tiny pipeline, without a Kedro session."""

import json
import logging
import signal

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner
from kedro_datasets.text import TextDataset
from mlflow.tracking import MlflowClient

from pytorch_intro.data.lineage import digest
from pytorch_intro.hooks import RunGuardHook, RunInterrupted, VariantRunsHook
from pytorch_intro.hooks.run_guard import _HANDLE_ERROR
from pytorch_intro.internals import create_hook_manager
from tests.test_report import LINEAR
from tests.test_report import variant as variant_record

TRACKED = {
    "summary": {"params": True, "tags": ["data_source"]},
    "history": {"metrics": True},
}


def _summary(x: int) -> dict:
    return {"n_params": x, "lr": 0.1, "data_source": "MNIST subset"}


def _history(summary: dict) -> pd.DataFrame:
    return pd.DataFrame({"epoch": [1, 2], "val_accuracy": [0.5, 0.75]})


def _explode(summary: dict) -> pd.DataFrame:
    raise RuntimeError("training diverged")


def _interrupted(summary: dict) -> pd.DataFrame:
    raise RunInterrupted("Run interrupted (Ctrl-C)")


def _interrupted_loading(summary: dict) -> pd.DataFrame:
    """As Kedro reports a stop that lands while a dataset loads."""
    try:
        _interrupted(summary)
    except RunInterrupted as error:
        raise DatasetError(f"Failed while loading data: {error}") from error


def _variant(name: str, last, after: str | None = None) -> Pipeline:
    # `after` orders the variants: its summary waits for another's output
    inputs = ["params:x", "previous"] if after else "params:x"
    summarize = _summary if after is None else lambda x, _: _summary(x)
    return Pipeline(
        [
            Node(summarize, inputs, "summary", name="summarize"),
            Node(last, "summary", "history", name="train"),
        ],
        namespace=f"toy.{name}",
        inputs={"previous": after} if after else None,
        parameters={"params:x": "params:x"},
    )


def _toy_run(variants):
    """A catalog tracking each variant's summary and history, and a registered hook."""
    catalog = DataCatalog({"params:x": MemoryDataset(7)})
    for variant in variants:
        for key, spec in TRACKED.items():
            catalog[f"toy.{variant}.{key}"] = MemoryDataset(metadata={"mlflow": spec})
    hook = VariantRunsHook()
    manager = create_hook_manager()
    manager.register(hook)
    return catalog, hook, manager


@pytest.fixture
def tracking(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.set_experiment("hook-test")
    yield MlflowClient(), experiment.experiment_id
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_completed_variants_finish_and_the_failing_one_is_marked_failed(tracking):
    client, experiment_id = tracking
    pipeline = _variant("good", _history) + _variant(
        "bad", _explode, after="toy.good.history"
    )
    catalog, hook, manager = _toy_run(("good", "bad"))

    with mlflow.start_run(run_name="parent") as parent:
        hook.before_pipeline_run({"pipeline_name": "toy"}, pipeline, catalog)
        with pytest.raises(RuntimeError, match="training diverged"):
            SequentialRunner().run(pipeline, catalog, hook_manager=manager)
        hook.on_pipeline_error(RuntimeError("training diverged"))

    runs = {
        run.info.run_name: run
        for run in client.search_runs([experiment_id])
        if run.info.run_name != "parent"
    }
    assert runs["toy.good"].info.status == "FINISHED"
    assert runs["toy.bad"].info.status == "FAILED"
    good = runs["toy.good"]
    assert good.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert (good.data.tags["pipeline"], good.data.tags["variant"]) == ("toy", "good")
    assert good.data.params == {
        "n_params": "7",
        "lr": "0.1",
        "data_source": "MNIST subset",
    }
    assert good.data.tags["data_source"] == "MNIST subset"  # to filter runs by
    history = client.get_metric_history(good.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]


def _run_with_hook(pipeline: Pipeline, catalog: DataCatalog) -> None:
    """``pipeline`` run in a parent run, recorded by a fresh hook."""
    hook = VariantRunsHook()
    manager = create_hook_manager()
    manager.register(hook)
    with mlflow.start_run(run_name="parent"):
        hook.before_pipeline_run({"pipeline_name": "toy"}, pipeline, catalog)
        SequentialRunner().run(pipeline, catalog, hook_manager=manager)
        hook.after_pipeline_run()


def test_a_variants_params_are_read_from_its_record(tracking):
    client, experiment_id = tracking
    record = variant_record("Linear", [0.5, 0.75], 3, LINEAR, 500)
    pipeline = Pipeline(
        [Node(lambda: record, None, "report_entry", name="collect")],
        namespace="toy.linear",
    )
    spec = {"params": True, "tags": ["data_source"]}
    catalog = DataCatalog(
        {"toy.linear.report_entry": MemoryDataset(metadata={"mlflow": spec})}
    )
    _run_with_hook(pipeline, catalog)

    [child] = client.search_runs([experiment_id], "attributes.run_name = 'toy.linear'")
    assert child.data.params == {k: str(v) for k, v in record.params().items()}
    assert (child.data.params["n_params"], child.data.params["epochs"]) == ("3", "2")
    assert child.data.tags["data_source"] == "MNIST"


def _labelled(n: int, shift: float) -> dict:
    rng = np.random.default_rng(n)
    return {
        "samples": rng.normal(shift, 1, (n, 2)),
        "annotations": np.arange(n) % 2,
        "source": "generated",
        "origin": {"generator.seed": n},
    }


def test_a_variant_logs_the_data_it_reads_once_per_run(tracking):
    client, experiment_id = tracking
    train, valid = _labelled(40, 0.0), _labelled(10, 1.0)

    def fit(train_set, valid_set) -> pd.DataFrame:
        return pd.DataFrame(
            {"epoch": [1, 2], "train_loss": [0.9, 0.5], "val_accuracy": [0.5, 0.7]}
        )

    pipeline = sum(
        (
            Pipeline(
                [Node(fit, ["train_set", "valid_set"], "history", name="fit")],
                namespace=ns,
                inputs={"train_set", "valid_set"},
            )
            for ns in ("toy.a", "toy.b")
        ),
        Pipeline([]),
    )
    catalog = DataCatalog(
        {
            "train_set": MemoryDataset(
                train, metadata={"mlflow": {"dataset": "train"}}
            ),
            "valid_set": MemoryDataset(
                valid, metadata={"mlflow": {"dataset": "valid"}}
            ),
        }
    )
    for ns in ("toy.a", "toy.b"):
        catalog[f"{ns}.history"] = MemoryDataset(metadata={"mlflow": {"metrics": True}})
    _run_with_hook(pipeline, catalog)

    for name in ("toy.a", "toy.b"):
        [run] = client.search_runs([experiment_id], f"attributes.run_name = '{name}'")
        inputs = {
            tag.value: d.dataset
            for d in run.inputs.dataset_inputs
            for tag in d.tags
            if tag.key == "mlflow.data.context"
        }
        assert set(inputs) == {"training", "evaluation"}
        assert len(run.inputs.dataset_inputs) == 2
        used, held_out = inputs["training"], inputs["evaluation"]
        assert (used.name, held_out.name) == ("train_set", "valid_set")
        assert used.digest == digest(train["samples"], train["annotations"])
        assert held_out.digest == digest(valid["samples"], valid["annotations"])
        assert json.loads(used.source) == {
            "source": "generated",
            "generator.seed": "40",
        }
        assert json.loads(used.profile)["num_rows"] == 40


def test_a_digest_changes_with_any_value_and_only_then():
    points = _labelled(50, 0.0)
    same = {key: np.copy(value) for key, value in points.items() if key != "origin"}
    assert digest(points["samples"], points["annotations"]) == digest(
        same["samples"], same["annotations"]
    )
    same["samples"][49, 1] += 1e-9  # the last value of the set
    assert digest(points["samples"], points["annotations"]) != digest(
        same["samples"], same["annotations"]
    )
    labels = points["annotations"]
    assert digest(points["samples"], labels) != digest(
        points["samples"], labels.astype(np.int32)
    )


def test_a_dataset_marked_for_the_parent_run_goes_there_not_to_a_child(
    tracking, tmp_path
):
    client, experiment_id = tracking
    pipeline = Pipeline(
        [Node(lambda: "# report\n", None, "report", name="write_report")],
        namespace="reporting",
    )
    catalog = DataCatalog(
        {
            "reporting.report": TextDataset(
                filepath=str(tmp_path / "report.md"),
                metadata={"mlflow": {"artifact": True, "run": "parent"}},
            )
        }
    )
    hook = VariantRunsHook()
    manager = create_hook_manager()
    manager.register(hook)

    with mlflow.start_run(run_name="parent") as parent:
        hook.before_pipeline_run({"pipeline_name": "toy"}, pipeline, catalog)
        SequentialRunner().run(pipeline, catalog, hook_manager=manager)
        hook.after_pipeline_run()

    runs = client.search_runs([experiment_id])
    assert [run.info.run_name for run in runs] == ["parent"]  # no child run
    artifacts = [a.path for a in client.list_artifacts(parent.info.run_id)]
    assert artifacts == ["report.md"]


@pytest.mark.parametrize("stop", [_interrupted, _interrupted_loading])
def test_an_interrupted_run_and_its_open_variant_are_marked_killed(tracking, stop):
    client, experiment_id = tracking
    pipeline = _variant("good", _history) + _variant(
        "stopped", stop, after="toy.good.history"
    )
    catalog, hook, manager = _toy_run(("good", "stopped"))

    parent = mlflow.start_run(run_name="parent")
    hook.before_pipeline_run({"pipeline_name": "toy"}, pipeline, catalog)
    with pytest.raises((RunInterrupted, DatasetError)) as error:
        SequentialRunner().run(pipeline, catalog, hook_manager=manager)
    mlflow.end_run("FAILED")  # what kedro-mlflow does on any error
    hook.on_pipeline_error(error.value)

    statuses = {
        run.info.run_name: run.info.status
        for run in client.search_runs([experiment_id])
    }
    assert statuses == {
        "parent": "KILLED",
        "toy.good": "FINISHED",  # complete before the interruption
        "toy.stopped": "KILLED",
    }
    assert client.get_run(parent.info.run_id).info.end_time is not None


def test_a_stop_while_a_log_line_is_written_stops_the_run():
    """logging reports an error in a handler and carries on: a stop signal that
    lands there must still stop the run (and restore logging afterwards)."""

    guard = RunGuardHook()

    class Interrupted(logging.Handler):
        def emit(self, record):
            try:  # Ctrl-C arrives while the line is written
                guard._on_interrupt(signal.SIGINT, None)
            except Exception:
                self.handleError(record)

    logger = logging.getLogger("tests.interrupted")
    logger.addHandler(handler := Interrupted())
    try:
        guard._install_interrupt_handler()
        with pytest.raises(RunInterrupted, match=r"Run interrupted \(Ctrl-C\)"):
            logger.warning("an epoch's line")
    finally:
        guard.after_pipeline_run()
        logger.removeHandler(handler)
    assert logging.Handler.handleError is _HANDLE_ERROR
