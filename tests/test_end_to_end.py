"""`kedro run` through a real Kedro session, MLflow pointed at a temporary store.

The project's conf/ is copied into a temporary project folder, so data, models
and the SQLite MLflow store (an absolute URI: MLflow caches stores by URI) all
land there.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from pytorch_intro.models import load_checkpoint, model_from_checkpoint
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e

VARIANTS = {"linear": 3, "mlp": 337, "polar_linear": 3}
ARTIFACTS = {
    "model.pt",
    "history.csv",
    "metrics.json",
    "learning_curves.png",
    "decision_boundary.png",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copytree(PROJECT_ROOT / "conf", tmp_path / "conf")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "src").mkdir()  # the package itself is installed
    (tmp_path / "conf/test/mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: sqlite:///{tmp_path / 'mlflow.db'}\n"
    )
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    yield tmp_path
    # kedro-mlflow re-enters its run at every node and leaves it on MLflow's
    # process-wide stack; a CLI run exits, a test process must clean up.
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _client(project):
    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def test_kedro_run_records_each_variant_as_its_own_mlflow_run(project):
    with KedroSession.create(project_path=project, env="test") as session:
        session.run(pipeline_names=["simple2d"])

    client = _client(project)
    experiment = client.get_experiment_by_name("pytorch-intro")
    runs = client.search_runs([experiment.experiment_id])
    by_name = {run.info.run_name: run for run in runs}
    assert set(by_name) == {"simple2d"} | {f"simple2d.{v}" for v in VARIANTS}
    parent = by_name["simple2d"]
    assert parent.info.status == "FINISHED"

    for variant, n_params in VARIANTS.items():
        run = by_name[f"simple2d.{variant}"]
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["pipeline"] == "simple2d"
        assert run.data.tags["variant"] == variant
        params = run.data.params
        assert params["n_params"] == str(n_params)
        assert (
            params["epochs"],
            params["batch_size"],
            params["lr"],
            params["seed"],
        ) == ("3", "16", "0.02", "0")
        assert '"name":' in params["architecture"]
        for key in ("train_loss", "val_loss", "val_accuracy", "train_seconds"):
            history = client.get_metric_history(run.info.run_id, key)
            assert sorted(m.step for m in history) == [1, 2, 3], key
        assert all(
            0 <= m.value <= 1
            for m in client.get_metric_history(run.info.run_id, "val_accuracy")
        )
        assert all(
            m.value > 0
            for m in client.get_metric_history(run.info.run_id, "train_seconds")
        )
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert artifacts == ARTIFACTS
        model_file = client.download_artifacts(
            run.info.run_id, "model.pt", str(project / "dl")
        )
        model_from_checkpoint(load_checkpoint(model_file))

    assert by_name["simple2d.mlp"].data.metrics["val_accuracy"] > 0.9
    # versioned outputs in the project's data folder
    assert len(list((project / "data/06_models/simple2d/mlp/model.pt").iterdir())) == 1
    assert (project / "data/01_raw/simple2d/generated/train.npz").is_file()


def test_a_bad_parameter_stops_the_run_before_any_training(project):
    with (
        KedroSession.create(
            project_path=project,
            env="test",
            runtime_params={"simple2d": {"training": {"batch_size": 0}}},
        ) as session,
        pytest.raises(
            Exception, match=r"simple2d\.training.*batch_size must be an integer >= 1"
        ),
    ):
        session.run(pipeline_names=["simple2d"])
    assert not (project / "data/06_models").exists()
    assert not (project / "data/01_raw/simple2d").exists()


def test_kedro_viz_build_works_offline_with_a_group_per_variant(project):
    kedro = Path(sys.executable).with_name("kedro")
    env = os.environ | {"DO_NOT_TRACK": "true", "KEDRO_DISABLE_TELEMETRY": "true"}
    subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    graph = json.loads((project / "build/api/main").read_text())
    groups = {n["id"] for n in graph["nodes"] if n["type"] == "modularPipeline"}
    assert {f"simple2d.{variant}" for variant in VARIANTS} <= groups
    assert {"raw", "models", "model_output", "reporting"} <= set(graph["layers"])
