"""`kedro run` through a real Kedro session, MLflow pointed at a temporary store.

The project's conf/ is copied into a temporary project folder (tests/conftest.py:
``make_project``), so data, models, the report and the SQLite MLflow store all
land there. One default run (``finished_project``) is shared by the tests that
only inspect its results.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from mlflow.tracking import MlflowClient

from pytorch_intro.models import load_checkpoint, model_from_checkpoint
from tests.conftest import kedro_project, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SIMPLE2D = {"linear": 3, "mlp": 337, "polar_linear": 3}
DIGITS = {"linear": 7850, "mlp": 25450, "cnn": 6218}
COMMON_ARTIFACTS = {
    "model.pt",
    "history.csv",
    "metrics.json",
    "learning_curves.png",
    "parameter_counts.csv",
    "confusion_matrix.json",
    "confusion_matrix.png",
    "top_confusions.json",
}
ARTIFACTS = {
    "simple2d": COMMON_ARTIFACTS | {"decision_boundary.png"},
    "digits": COMMON_ARTIFACTS | {"misclassified.png"},
}


@pytest.fixture
def project(tmp_path):
    """A fresh project folder, for a test that runs its own session."""
    with kedro_project(make_project(tmp_path)) as folder:
        yield folder


def _client(project):
    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def test_default_run_records_all_six_variants_as_mlflow_runs(finished_project):
    project = finished_project  # after the default pipeline: simple2d, digits, report
    client = _client(project)
    experiment = client.get_experiment_by_name("pytorch-intro")
    runs = client.search_runs([experiment.experiment_id])
    by_name = {run.info.run_name: run for run in runs}
    variants = {f"simple2d.{v}": n for v, n in SIMPLE2D.items()} | {
        f"digits.{v}": n for v, n in DIGITS.items()
    }
    # the parent is named after the pipeline and its start time
    [parent_name] = set(by_name) - set(variants)
    assert re.fullmatch(r"__default__ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", parent_name)
    parent = by_name[parent_name]
    assert parent.info.status == "FINISHED"

    for name, n_params in variants.items():
        problem, variant = name.split(".")
        run = by_name[name]
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["pipeline"] == problem
        assert run.data.tags["variant"] == variant
        assert run.data.tags["data_source"] == run.data.params["data_source"]
        params = run.data.params
        assert params["n_params"] == str(n_params)
        expected = (
            ("3", "16", "0.02") if problem == "simple2d" else ("2", "32", "0.003")
        )
        assert (params["epochs"], params["batch_size"], params["lr"]) == expected
        assert params["seed"] == "0"
        assert '"name":' in params["architecture"]
        assert params["features"] == (
            "pixels"
            if problem == "digits"
            else ("polar" if "polar" in variant else "xy")
        )
        epochs = int(params["epochs"])
        for key in ("train_loss", "val_loss", "val_accuracy", "train_seconds"):
            history = client.get_metric_history(run.info.run_id, key)
            assert sorted(m.step for m in history) == list(range(1, epochs + 1)), key
        assert all(
            0 <= m.value <= 1
            for m in client.get_metric_history(run.info.run_id, "val_accuracy")
        )
        assert all(
            m.value > 0
            for m in client.get_metric_history(run.info.run_id, "train_seconds")
        )
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert artifacts == ARTIFACTS[problem], name
        folder = project / "dl" / name
        folder.mkdir(parents=True)
        model_file = client.download_artifacts(run.info.run_id, "model.pt", str(folder))
        model_from_checkpoint(load_checkpoint(model_file))
        table = pd.read_csv(
            client.download_artifacts(
                run.info.run_id, "parameter_counts.csv", str(folder)
            )
        )
        assert table["params"].sum() == n_params

    for variant in DIGITS:
        run = by_name[f"digits.{variant}"]
        matrix = np.array(
            json.loads(
                Path(
                    client.download_artifacts(
                        run.info.run_id,
                        "confusion_matrix.json",
                        str(project / "dl" / run.info.run_name),
                    )
                ).read_text()
            )
        )
        assert matrix.shape == (10, 10) and matrix.sum() == 500  # max_test in conf/test
        assert run.data.metrics["val_accuracy"] == np.trace(matrix) / 500
        assert " predicted as " in run.data.params["top_confusions"]
        assert run.data.metrics["val_accuracy"] > 0.5
    assert by_name["simple2d.mlp"].data.metrics["val_accuracy"] > 0.9
    # versioned outputs in the project's data folder
    assert len(list((project / "data/06_models/simple2d/mlp/model.pt").iterdir())) == 1
    assert len(list((project / "data/06_models/digits/cnn/model.pt").iterdir())) == 1
    (points,) = (project / "data/01_raw/simple2d/generated").glob(
        "train_points.npz/*/train_points.npz"
    )
    assert points.is_file()


def _latest(project: Path, name: str) -> Path:
    """The latest version of a versioned file under data/08_reporting/."""
    versions = sorted((project / "data/08_reporting" / name).iterdir())
    return versions[-1] / name


def test_default_run_writes_the_report_and_logs_it_to_the_parent_run(
    finished_project,
):
    project = finished_project
    client = _client(project)
    experiment = client.get_experiment_by_name("pytorch-intro")
    [parent] = client.search_runs(
        [experiment.experiment_id], "attributes.run_name LIKE '__default__ %'"
    )
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"report.md", "report.html", "accuracy_overview.png"} <= artifacts

    markdown = _latest(project, "report.md").read_text(encoding="utf-8")
    html = _latest(project, "report.html").read_text(encoding="utf-8")
    head = markdown.split("## Overview")[0]
    assert f"**MLflow run:** `{parent.info.run_id}`" in head
    assert head.count("results from this run") == 2
    assert "not run yet" not in markdown
    for heading in (
        "## 2D classifier: disc against ring",
        "### Decision boundaries",
        "## Digit classifier: MNIST",
        "### CNN (3 conv layers, 8-16-32 channels)",
    ):
        assert heading in markdown
    # the numbers are this run's: the CNN's accuracy as MLflow recorded it
    [cnn] = client.search_runs(
        [experiment.experiment_id], "attributes.run_name = 'digits.cnn'"
    )
    accuracy = cnn.data.metrics["val_accuracy"]
    assert f"final validation accuracy **{100 * accuracy:.2f}%**" in markdown
    # self-contained HTML: every figure embedded
    assert html.count('<img src="data:image/png;base64,') == markdown.count("][figure-")
    assert 'src="http' not in html
    # the per-pipeline results the report was built from are versioned too
    results = json.loads(_latest(project, "digits_results.json").read_text())
    assert results["identity"]["mlflow_run_id"] == parent.info.run_id


def test_a_report_of_what_exists_when_only_one_pipeline_ran(project):
    with KedroSession.create(project_path=project, env="test") as session:
        session.run(pipeline_names=["reporting"])  # nothing has run yet
    first = _latest(project, "report.md").read_text(encoding="utf-8")
    assert "**2D classifier:** not run yet" in first
    assert "**Digit classifier:** not run yet" in first
    assert first.count("> **Note:**") == 2

    with KedroSession.create(project_path=project, env="test") as session:
        session.run(pipeline_names=["simple2d"])  # the 2D pipeline ends with the report
    second = _latest(project, "report.md").read_text(encoding="utf-8")
    assert "## 2D classifier: disc against ring" in second
    assert "**Digit classifier:** not run yet" in second
    assert "Run `kedro run --pipelines=digits`" in second
    # versioned: the first report is still there
    assert len(list((project / "data/08_reporting/report.md").iterdir())) == 2


def test_a_bad_parameter_stops_the_run_before_any_training(project):
    with (
        KedroSession.create(
            project_path=project,
            env="test",
            runtime_params={"simple2d": {"training": {"batch_size": 0}}},
        ) as session,
        pytest.raises(
            Exception,
            match=r"simple2d\.training.*\nbatch_size\n  Input should be greater than or",
        ),
    ):
        session.run(pipeline_names=["simple2d"])
    assert not (project / "data/06_models").exists()
    assert not (project / "data/01_raw/simple2d").exists()


def test_kedro_viz_build_works_offline_with_a_group_per_variant(finished_project):
    project = finished_project
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
    assert {f"simple2d.{v}" for v in SIMPLE2D} | {f"digits.{v}" for v in DIGITS} | {
        "reporting"
    } <= groups
    tasks = {n["name"] for n in graph["nodes"] if n["type"] == "task"}
    assert {"write_report", "collect_results", "train_model"} <= tasks
    # every dataset sits in a layer of the story: raw ... reporting
    unlayered = [
        n["name"] for n in graph["nodes"] if n["type"] == "data" and not n.get("layer")
    ]
    assert unlayered == []
    assert {
        "raw",
        "intermediate",
        "model_input",
        "models",
        "model_output",
        "reporting",
    } <= set(graph["layers"])
