"""The model registry's champion, runs left by dead processes, the variant order."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import mlflow
import pytest
from click.testing import CliRunner
from kedro.framework.cli.project import run as kedro_run
from kedro.runner import SequentialRunner
from mlflow.entities import Dataset
from mlflow.tracking import MlflowClient

from pytorch_intro import cli
from pytorch_intro.hooks.models import ModelRecord
from pytorch_intro.hooks.orphans import (
    HOST_TAG,
    PID_TAG,
    close_orphan_runs,
    process_alive,
)
from pytorch_intro.hooks.registry import RegistryConfig, register_champions
from pytorch_intro.pipeline_registry import register_pipelines
from pytorch_intro.runner import VariantRunner, variant_order
from tests.conftest import kedro_project, make_project

NAME = "pytorch-intro-digits"
# the evaluation datasets: full MNIST's test digits and the subset's
FULL = Dataset("digits.test_set", "aaaaaaaaaaaaaaaa", "local", '{"uri": "mnist"}')
SUBSET = Dataset("digits.test_set", "bbbbbbbbbbbbbbbb", "local", '{"uri": "5k"}')


@pytest.fixture
def store(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.set_experiment("registry-test")
    yield MlflowClient(), experiment.experiment_id
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _run_with_models(accuracies: dict[str, float], data: Dataset) -> tuple[str, dict]:
    """A parent run whose variants logged models with these accuracies."""
    records = {}
    with mlflow.start_run() as parent:
        for variant, accuracy in accuracies.items():
            model = mlflow.create_external_model(name=variant.replace(".", "-"))
            records[variant] = ModelRecord(
                variant,
                metrics={"val_accuracy": accuracy},
                model_id=model.model_id,
                datasets={"evaluation": data},
            )
    return parent.info.run_id, records


def _champion(client: MlflowClient):
    version = client.get_model_version_by_alias(NAME, "champion")
    return (
        str(version.version),
        version.tags["variant"],
        float(version.tags["val_accuracy"]),
    )


def test_the_best_model_becomes_champion_then_only_a_better_one_replaces_it(store):
    client, _ = store
    config = RegistryConfig()
    first, models = _run_with_models({"digits.mlp": 0.94, "digits.cnn": 0.98}, FULL)
    decisions = register_champions(client, first, models, config)
    assert _champion(client) == ("1", "digits.cnn", 0.98)
    assert "is now 'champion': there was no champion" in decisions["digits"]

    worse, models = _run_with_models({"digits.cnn": 0.97}, FULL)
    decisions = register_champions(client, worse, models, config)
    assert _champion(client) == ("1", "digits.cnn", 0.98)  # kept
    assert (
        "v2" in decisions["digits"]
        and "does not beat champion v1" in decisions["digits"]
    )
    run = client.get_run(worse)
    assert run.data.metrics["registry.digits.candidate_val_accuracy"] == 0.97
    assert run.data.metrics["registry.digits.champion_val_accuracy"] == 0.98
    assert run.data.tags["registry.digits"] == decisions["digits"]

    better, models = _run_with_models({"digits.cnn": 0.99}, FULL)
    register_champions(client, better, models, config)
    assert _champion(client) == ("3", "digits.cnn", 0.99)  # replaced
    versions = client.search_model_versions(f"name = '{NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]  # all registered


def test_models_evaluated_on_other_data_are_never_compared(store):
    client, _ = store
    config = RegistryConfig()
    run, models = _run_with_models({"digits.cnn": 0.98}, FULL)
    register_champions(client, run, models, config)
    # the subset: a higher accuracy on other (easier, smaller) data
    run, models = _run_with_models({"digits.cnn": 0.995}, SUBSET)
    decisions = register_champions(client, run, models, config)
    assert _champion(client) == ("1", "digits.cnn", 0.98)
    assert (
        "not compared: champion v1 was evaluated on digits.test_set (digest "
        "aaaaaaaaaaaaaaaa), this model on digits.test_set (digest bbbbbbbbbbbbbbbb)"
    ) in decisions["digits"]


def test_a_champion_registered_before_the_datasets_is_compared_by_its_digest(store):
    client, _ = store
    run, models = _run_with_models({"digits.cnn": 0.98}, FULL)
    register_champions(client, run, models, RegistryConfig())
    # how earlier versions of the project tagged it: its data's size and digest
    client.delete_model_version_tag(NAME, "1", "eval_dataset")
    client.delete_model_version_tag(NAME, "1", "eval_dataset_digest")
    client.set_model_version_tag(
        NAME, "1", "eval_data", "10000 samples, sha256 " + "a" * 16
    )
    run, models = _run_with_models({"digits.cnn": 0.99}, FULL)
    decisions = register_champions(client, run, models, RegistryConfig())
    assert _champion(client) == ("2", "digits.cnn", 0.99)
    assert "0.9900 beats champion v1's 0.9800" in decisions["digits"]


def test_the_registry_is_configurable_and_can_be_off(store):
    client, _ = store
    run, models = _run_with_models({"digits.cnn": 0.98}, FULL)
    config = RegistryConfig(models={"digits": "my-digits"}, alias="best")
    register_champions(client, run, models, config)
    assert str(client.get_model_version_by_alias("my-digits", "best").version) == "1"
    assert register_champions(client, run, models, RegistryConfig(enabled=False)) == {}


# --- runs of dead processes -----------------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runs_of_processes_that_are_gone_are_marked_killed(store):
    client, experiment_id = store
    host = socket.gethostname()

    def running(name: str, host: str, pid: int) -> str:
        run = client.create_run(
            experiment_id, run_name=name, tags={HOST_TAG: host, PID_TAG: str(pid)}
        )
        return run.info.run_id

    dead = running("killed -9", host, _dead_pid())
    alive = running("a concurrent run", host, os.getpid())
    elsewhere = running("on another host", "some-other-host", _dead_pid())
    untagged = client.create_run(experiment_id, run_name="older run").info.run_id
    current = running("this run", host, _dead_pid())

    closed = close_orphan_runs(client, experiment_id, keep=current)
    status = {
        run_id: client.get_run(run_id).info.status
        for run_id in (dead, alive, elsewhere, untagged, current)
    }
    assert status == {
        dead: "KILLED",
        alive: "RUNNING",
        elsewhere: "RUNNING",
        untagged: "RUNNING",
        current: "RUNNING",
    }
    assert len(closed) == 1 and closed[0].startswith(f"killed -9 ({dead}, pid ")


def test_a_reused_process_id_does_not_keep_a_run_alive():
    started_long_ago = 0  # the epoch: every live process started after it
    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), since_ms=started_long_ago)
    assert not process_alive(_dead_pid())


# --- the variant order --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(register_pipelines()))
def test_the_runner_keeps_each_variant_together_in_a_topological_order(name):
    pipeline = register_pipelines()[name]
    order = variant_order(pipeline.nodes, pipeline.node_dependencies)
    assert sorted(order, key=id) == sorted(pipeline.nodes, key=id)
    seen = set()
    for node in order:
        assert set(pipeline.node_dependencies[node]) <= seen, node.name
        seen.add(node)
    namespaces = [node.namespace for node in order]
    variants = {n for n in namespaces if n and n.count(".") == 1}
    for variant in variants:
        where = [i for i, n in enumerate(namespaces) if n == variant]
        assert where == list(range(where[0], where[-1] + 1)), variant


def test_kedro_run_defaults_to_the_variant_runner(monkeypatch):
    seen = {}
    monkeypatch.setattr(kedro_run, "callback", lambda **options: seen.update(options))
    defaults = {p.name: p.default for p in cli.run.params}
    cli.run.callback(**defaults)
    assert seen["runner"] == "pytorch_intro.runner.VariantRunner"
    cli.run.callback(**(defaults | {"runner": "SequentialRunner"}))
    assert seen["runner"] == "SequentialRunner"
    assert [p.name for p in cli.run.params] == [p.name for p in kedro_run.params]
    assert issubclass(VariantRunner, SequentialRunner)


def test_kedro_mlflow_ui_prints_the_model_training_views_then_serves(
    tmp_path, monkeypatch
):
    project = make_project(tmp_path / "project")
    store = f"sqlite:///{project / 'mlflow.db'}"
    experiment_id = MlflowClient(tracking_uri=store).create_experiment("pytorch-intro")
    served = []
    monkeypatch.setattr(cli.os, "execvp", lambda file, args: served.append(args))
    with kedro_project(project):
        done = CliRunner().invoke(cli.mlflow_ui, ["--env", "test"])
    assert done.exit_code == 0, done.output
    page = f"http://127.0.0.1:5000/#/experiments/{experiment_id}"
    assert f"runs: {page}/runs?workflowType=machine_learning" in done.output
    assert f"models: {page}/models?workflowType=machine_learning" in done.output
    assert served == [
        ["mlflow", "ui", "--backend-store-uri", store]
        + ["--host", "127.0.0.1", "--port", "5000"]
    ]
