"""Sweeps: their points, and real `kedro sweep` runs on a Dask LocalCluster.

The integration tests start their own processes (an `mlflow server`, the
sweep's cluster through `kedro sweep`) on 127.0.0.1 and stop every one of
them; no network.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import psutil
import pytest
import yaml
from mlflow.tracking import MlflowClient
from pydantic import ValidationError

from pytorch_intro.hooks.orphans import PID_TAG
from pytorch_intro.sweeps.command import SweepError, _check_store
from pytorch_intro.sweeps.spec import SweepSpec, expand, parse_sweep
from pytorch_intro.sweeps.tracking import POINT_TAG
from tests.conftest import PROJECT_ROOT, make_project
from tests.test_serving import mlflow_command, served, server_env, stop_group

KEDRO = str(Path(sys.executable).with_name("kedro"))
ENV = os.environ | {
    "DO_NOT_TRACK": "true",
    "KEDRO_DISABLE_TELEMETRY": "true",
    "PYTHONUNBUFFERED": "1",
    "COLUMNS": "300",
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
}
VARIANTS = ["simple2d.linear", "simple2d.mlp", "simple2d.polar_linear"]
SWEEP = {
    "pipelines": VARIANTS,
    "grid": {"simple2d.training.lr": [1.0e-3, 1.0e-2]},
    "seeds": [0, 1],
    "params": {"simple2d.training.epochs": 2},
}


# --- expanding a sweep -----------------------------------------------------------


def test_a_sweep_is_its_pipelines_times_grid_times_seeds_plus_extra_points():
    spec = SweepSpec.model_validate(
        SWEEP | {"include": [{"pipeline": "simple2d.mlp", "params": {"x.y": 1}}]}
    )
    points = expand(spec)
    assert len(points) == 3 * 2 * 2 + 1
    assert [p.id for p in points[:2]] == ["point-001", "point-002"]
    first = points[0]
    assert first.pipeline == "simple2d.linear"
    assert first.swept == {"simple2d.training.lr": 0.001, "simple2d.training.seed": 0}
    assert first.params_option() == (
        "simple2d.training.epochs=2,simple2d.training.lr=0.001,simple2d.training.seed=0"
    )
    assert points[-1].params == {"simple2d.training.epochs": 2, "x.y": 1}
    digests = {p.digest for p in points}
    assert len(digests) == len(points)  # a content hash per point
    assert expand(spec)[3].digest == points[3].digest  # stable


def test_random_samples_are_seeded_and_within_their_ranges():
    spec = SweepSpec.model_validate(
        {
            "pipelines": ["digits.mlp"],
            "random": {
                "samples": 5,
                "seed": 3,
                "parameters": {
                    "digits.training.lr": {"log_uniform": [1e-4, 1e-2]},
                    "digits.training.batch_size": {"choice": [16, 32]},
                },
            },
        }
    )
    points, again = expand(spec), expand(spec)
    assert [p.params for p in points] == [p.params for p in again]
    lrs = [p.params["digits.training.lr"] for p in points]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs) and len(set(lrs)) == 5
    assert {p.params["digits.training.batch_size"] for p in points} <= {16, 32}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"pipelines": []}, r"pipelines\n  List should have at least 1 item"),
        (
            {"pipelines": ["a.b"], "grid": {"k": [1]}, "params": {"k": 2}},
            "Value error, k: both swept and fixed in params",
        ),
        (
            {"pipelines": ["a.b"], "sweeps": 3},
            r"sweeps\n  Extra inputs are not permitted",
        ),
        (
            {"pipelines": ["a.b"], "random": {"samples": 1, "parameters": {"k": {}}}},
            r"random\.parameters\.k\n  Value error, a random parameter needs exactly "
            "one of choice, uniform, log_uniform, int_uniform; got none",
        ),
    ],
)
def test_a_bad_sweep_file_names_the_key(raw, message):
    with pytest.raises(ValidationError, match=message):
        parse_sweep({"s": raw}, "s")


def test_an_unknown_sweep_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"no sweep 'nope' \(known: a, b\)"):
        parse_sweep({"a": {}, "b": {}}, "nope")


def test_workers_on_other_hosts_are_refused_a_local_sqlite_store():
    def cluster(*hosts):
        workers = {f"tcp://{h}:1": {"host": h} for h in hosts}
        return SimpleNamespace(
            scheduler_info=lambda: {"workers": workers},
            wait_for_workers=lambda n, timeout: None,
        )

    _check_store(cluster("127.0.0.1", "127.0.0.1"), "sqlite:///mlflow.db", None)
    _check_store(cluster("10.1.2.3"), "http://10.1.2.9:5000", "tcp://10.1.2.3:8786")
    with pytest.raises(SweepError, match=r"workers on other hosts \(10\.1\.2\.3\)"):
        _check_store(cluster("10.1.2.3"), "sqlite:///mlflow.db", "tcp://10.1.2.3:8786")


# --- real sweeps -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1: a SQL store and the artifacts it serves."""
    folder = tmp_path_factory.mktemp("server")
    command = mlflow_command(
        "server", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}"
    ) + ["--artifacts-destination", str(folder / "artifacts"), "--workers", "1"]
    env = server_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with served(command, "/health", folder, env) as uri:
        yield uri


def _project(folder: Path, uri: str | None, sweeps: dict) -> Path:
    project = make_project(folder)
    if uri is not None:  # point the project at the tracking server
        (project / "conf/test/mlflow.yml").write_text(
            f"server:\n  mlflow_tracking_uri: {uri}\n"
        )
    (project / "conf/test/sweeps").mkdir()
    (project / "conf/test/sweeps/test.yml").write_text(yaml.safe_dump(sweeps))
    return project


def _sweep(project: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KEDRO, "sweep", name, "--env", "test", "--workers", "2", *args],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _start_sweep(project: Path, name: str) -> subprocess.Popen:
    """The sweep on 2 workers in the background, in its own process group (a
    terminal's), its output read line by line."""
    return subprocess.Popen(
        [KEDRO, "sweep", name, "--env", "test", "--workers", "2"],
        cwd=project,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _tree(client: MlflowClient, sweep_run: str) -> list:
    experiment = client.get_experiment_by_name("pytorch-intro")
    return client.search_runs(
        [experiment.experiment_id],
        f"tags.`mlflow.parentRunId` = '{sweep_run}'",
        max_results=100,
    )


def _sweep_run_id(output: str) -> str:
    line = next(line for line in output.splitlines() if "MLflow sweep run" in line)
    return line.split("MLflow sweep run ")[1].split(";")[0]


@pytest.fixture(scope="module")
def server_sweep(tmp_path_factory, tracking_server):
    # one seed: 3 pipelines x 2 learning rates, and one point that fails
    sweeps = {
        "sweep2d": SWEEP
        | {
            "seeds": [0],
            "include": [
                {
                    "pipeline": "simple2d.linear",
                    "params": {"simple2d.training.lr": -1.0},
                }
            ],
        }
    }
    project = _project(tmp_path_factory.mktemp("sweep"), tracking_server, sweeps)
    first = _sweep(project, "sweep2d")
    return project, MlflowClient(tracking_uri=tracking_server), first


@pytest.mark.slow
def test_a_sweep_on_a_tracking_server_records_every_point_under_its_run(server_sweep):
    project, client, done = server_sweep
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # one point failed
    assert "6 of 7 points finished, 1 failed" in output
    assert "Dask dashboard: http://127.0.0.1:" in output
    # progress lines, not the log's "[12/02/26 00:33:32] INFO ..." ones
    lines = [line for line in done.stdout.splitlines() if re.match(r"\[\d+/7\] ", line)]
    assert len(lines) == 7 and lines[-1].startswith("[7/7]")
    assert "elapsed" in lines[0] and "left" in lines[0]

    sweep_run = client.get_run(_sweep_run_id(output))
    assert sweep_run.info.status == "FAILED"  # one point did
    assert sweep_run.data.tags["pytorch_intro.failed"] == "1"
    artifacts = {a.path for a in client.list_artifacts(sweep_run.info.run_id)}
    assert {"summary.csv", "accuracy.png"} <= artifacts
    points = _tree(client, sweep_run.info.run_id)
    assert len(points) == 7
    by_status = {}
    for run in points:
        by_status.setdefault(run.info.status, []).append(run)
        tags = run.data.tags
        assert tags["pytorch_intro.sweep"] == "sweep2d"
        assert tags["pytorch_intro.point"].startswith("point-")
        assert len(tags["pytorch_intro.point_hash"]) == 16
        assert "simple2d.training.lr" in run.data.params  # the swept values
    assert len(by_status["FINISHED"]) == 6 and len(by_status["FAILED"]) == 1
    [failed] = by_status["FAILED"]
    assert failed.data.params["simple2d.training.lr"] == "-1.0"
    error = failed.data.tags["pytorch_intro.error"]  # pydantic's, as Kedro logs it
    assert "Parameter 'simple2d.training'" in error
    assert re.search(r"\nlr\n\s*Input should be greater than 0", error), error
    for run in by_status["FINISHED"]:  # the variant's records, without figures
        assert run.info.run_name.startswith(run.data.tags["pytorch_intro.point"])
        assert 0 <= run.data.metrics["val_accuracy"] <= 1
        assert run.data.params["epochs"] == "2"
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert "model.pt" in artifacts
        assert not any(path.endswith(".png") for path in artifacts)
    # the best point, recorded in the sweep's run
    best = max(by_status["FINISHED"], key=lambda r: r.data.metrics["val_accuracy"])
    assert sweep_run.data.metrics["best_val_accuracy"] == pytest.approx(
        best.data.metrics["val_accuracy"]
    )
    best_run = client.get_run(sweep_run.data.tags["pytorch_intro.best_run"])
    assert best_run.data.metrics["val_accuracy"] == best.data.metrics["val_accuracy"]
    # its MLflow model, logged at the end: the only one
    with_models = [run.info.run_id for run in points if run.outputs.model_outputs]
    assert with_models == [best_run.info.run_id]
    [model] = best_run.outputs.model_outputs
    assert client.get_logged_model(model.model_id).source_run_id == with_models[0]
    assert sweep_run.data.params["best_pipeline"] == best_run.data.tags["pipeline"] + (
        "." + best_run.data.tags["variant"]
    )
    summary = next((project / "data/08_reporting/sweeps/sweep2d/summary.csv").iterdir())
    table = summary / "summary.csv"
    assert table.read_text().count("\n") == 8  # a header and a row per point


@pytest.mark.slow
def test_each_point_records_its_data_and_the_best_model_what_it_measured(
    server_sweep,
):
    project, client, done = server_sweep
    sweep_run = client.get_run(_sweep_run_id(done.stdout + done.stderr))
    for run in _tree(client, sweep_run.info.run_id):
        if run.info.status != "FINISHED":
            continue
        contexts = {
            tag.value: entry.dataset.name
            for entry in run.inputs.dataset_inputs
            for tag in entry.tags
            if tag.key == "mlflow.data.context"
        }
        assert contexts == {
            "training": "simple2d.generated_train",
            "evaluation": "simple2d.generated_valid",
        }
    best_run = client.get_run(sweep_run.data.tags["pytorch_intro.best_run"])
    [output] = best_run.outputs.model_outputs
    model = client.get_logged_model(output.model_id)
    linked = {m.key: (m.dataset_name, m.step) for m in model.metrics}
    assert linked["val_accuracy"] == ("simple2d.generated_valid", 2)  # epochs=2
    assert linked["train_loss"] == ("simple2d.generated_train", 2)
    assert model.tags["eval_dataset"] == "simple2d.generated_valid"


@pytest.mark.slow
def test_a_second_run_of_a_sweep_skips_the_finished_points(server_sweep):
    project, client, _ = server_sweep
    again = _sweep(project, "sweep2d")
    output = again.stdout + again.stderr
    assert again.returncode == 1, output
    skipped = [
        line for line in again.stdout.splitlines() if ": skipped, FINISHED" in line
    ]
    assert len(skipped) == 6
    assert len(_tree(client, _sweep_run_id(output))) == 1  # only the failing one ran


def _point_process(
    project: Path, point: str, sweep: subprocess.Popen, timeout: float
) -> psutil.Process:
    """The process of ``point``'s `kedro run`, once it has tagged the point's run
    with its process id (its pipeline has started); fails if the sweep exits or
    ``timeout`` s pass first.

    Read-only SQL on the store: an MLflow client could create or migrate the
    database the sweep is still setting up.
    """
    query = (
        "SELECT pid.value FROM tags AS point JOIN tags AS pid USING (run_uuid) "
        "WHERE point.key = ? AND point.value = ? AND pid.key = ?"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sweep.poll() is not None:
            pytest.fail(f"the sweep ended before {point} ran:\n{sweep.stdout.read()}")
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{project / 'mlflow.db'}?mode=ro", uri=True)
            ) as store:
                found = store.execute(query, (POINT_TAG, point, PID_TAG)).fetchone()
        except sqlite3.OperationalError:  # no store or no tables yet
            found = None
        if found is not None:
            return psutil.Process(int(found[0]))
        time.sleep(0.2)
    pytest.fail(f"{point}'s kedro run did not start within {timeout} s")


@pytest.mark.slow
def test_a_killed_point_is_recorded_and_the_sweep_completes_the_others(tmp_path):
    # On the default SQLite store: two points at once must not lock each other out.
    # point-001 trains until it is killed (far more epochs than any machine gets
    # through meanwhile); point-002, a short one, runs beside it and finishes.
    sweeps = {
        "long": {
            "pipelines": ["simple2d.linear"],
            "seeds": [0],
            "params": {"simple2d.training.epochs": 1_000_000},
            "include": [
                {
                    "pipeline": "simple2d.linear",
                    "params": {
                        "simple2d.training.seed": 1,
                        "simple2d.training.epochs": 3,
                    },
                }
            ],
        }
    }
    project = _project(tmp_path / "project", None, sweeps)
    process = _start_sweep(project, "long")
    try:
        # the event: point-001's `kedro run` has resumed its MLflow run and tagged
        # it with its process id (its pipeline has started)
        victim = _point_process(project, "point-001", process, timeout=600)
        assert victim.pid != process.pid  # the Dask worker running the point
        victim.send_signal(signal.SIGKILL)
        output = process.communicate(timeout=600)[0]
    finally:
        stop_group(process)
    assert process.returncode == 1, output
    assert "database is locked" not in output
    assert "1 of 2 points finished, 1 failed" in output
    assert "point-001 simple2d.linear seed=0: KILLED (its worker process died" in output
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    statuses = {
        run.data.tags["pytorch_intro.point"]: run.info.status
        for run in _tree(client, _sweep_run_id(output))
    }
    assert statuses == {"point-001": "KILLED", "point-002": "FINISHED"}


@pytest.mark.slow
def test_a_plain_kedro_run_imports_nothing_of_dask_or_optuna():
    code = (
        "import sys\n"
        "from kedro.framework.startup import bootstrap_project\n"
        f"bootstrap_project({str(PROJECT_ROOT)!r})\n"
        "import pytorch_intro.settings, pytorch_intro.cli, pytorch_intro.pipeline_registry\n"
        "from pytorch_intro.pipeline_registry import register_pipelines\n"
        "register_pipelines()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'optuna')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_a_search_runs_its_budget_records_the_best_and_resumes(tmp_path):
    sweeps = {
        "search": {
            "pipelines": ["simple2d.mlp"],
            "grid": {"simple2d.training.lr": [1.0e-2, 1.0e-3]},
            "seeds": [0],
            "params": {"simple2d.training.epochs": 2},
            "search": {"sampler": "grid", "pruner": "median"},
        }
    }
    project = _project(tmp_path / "project", None, sweeps)
    first = _sweep(project, "search")
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    assert "sweep search: 2 points (0 before) on 2 worker(s)" in output
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    sweep_run = client.get_run(_sweep_run_id(output))
    assert sweep_run.data.params["sampler"] == "grid"
    assert sweep_run.data.params["pruner"] == "median"
    points = _tree(client, sweep_run.info.run_id)
    assert sorted(r.data.params["simple2d.training.lr"] for r in points) == [
        "0.001",
        "0.01",
    ]
    assert {r.info.status for r in points} == {"FINISHED"}
    best = max(r.data.metrics["val_accuracy"] for r in points)
    assert sweep_run.data.metrics["best_val_accuracy"] == pytest.approx(best)
    artifacts = {a.path for a in client.list_artifacts(sweep_run.info.run_id)}
    assert {"summary.csv", "accuracy.png", "history.png"} <= artifacts
    # the workers reported every epoch to the study, through the scheduler
    study = optuna.load_study(
        study_name="sweep search",
        storage=f"sqlite:///{project / 'data/07_model_output/sweeps/search/study.db'}",
    )
    assert [sorted(t.intermediate_values) for t in study.trials] == [[1, 2], [1, 2]]
    assert "experimental" not in output.lower()

    again = _sweep(project, "search")  # the study is kept: nothing left to run
    output = again.stdout + again.stderr
    assert again.returncode == 0, output
    assert "sweep search: 0 points (2 before) on" in output
    assert _tree(client, _sweep_run_id(output)) == []


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_sweep_stopped_with_ctrl_c_resumes_where_it_stopped(tmp_path):
    sweeps = {
        "long": {
            "pipelines": ["simple2d.linear"],
            "grid": {"simple2d.training.lr": [1.0e-2]},
            "seeds": list(range(8)),
            "params": {"simple2d.training.epochs": 20},
        }
    }
    project = _project(tmp_path / "project", None, sweeps)
    process = _start_sweep(project, "long")
    try:
        lines = []
        for line in process.stdout:  # the event: a point has finished
            lines.append(line)
            if line.startswith("[1/8] "):
                break
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal's whole group
        output = "".join(lines) + process.communicate(timeout=300)[0]
        deadline = time.monotonic() + 60  # the workers end with it
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _group_alive(process.pid), "processes of the sweep were left"
    finally:
        stop_group(process)
    assert process.returncode == 130, output
    assert "sweep long interrupted: " in output
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    first = client.get_run(_sweep_run_id(output))
    assert first.info.status == "KILLED"
    statuses = [run.info.status for run in _tree(client, first.info.run_id)]
    assert "FINISHED" in statuses and set(statuses) <= {"FINISHED", "KILLED"}

    again = _sweep(project, "long")  # resumes: the finished points are not run again
    output = again.stdout + again.stderr
    assert again.returncode == 0, output
    second = _tree(client, _sweep_run_id(output))
    assert len(second) == 8 - statuses.count("FINISHED")
    assert {run.info.status for run in second} == {"FINISHED"}
    seeds = [
        run.data.params["simple2d.training.seed"]
        for sweep in (first, client.get_run(_sweep_run_id(output)))
        for run in _tree(client, sweep.info.run_id)
        if run.info.status == "FINISHED"
    ]
    assert sorted(seeds, key=int) == [str(seed) for seed in range(8)]  # each once


@pytest.mark.slow
def test_a_point_the_pruner_stops_is_tagged_with_the_epoch_it_reached(tmp_path):
    sweeps = {
        "prune": {
            "pipelines": ["simple2d.mlp"],
            "grid": {"simple2d.training.lr": [1.0e-2, 1.0e-9]},  # learns; does not
            "seeds": [0],
            "params": {"simple2d.training.epochs": 3},
            # seed 1: the grid sampler asks lr=0.01 first (one worker: in order)
            "search": {
                "sampler": "grid",
                "seed": 1,
                "pruner": {"kind": "median", "startup_trials": 1, "warmup_epochs": 0},
            },
        }
    }
    project = _project(tmp_path / "project", None, sweeps)
    done = _sweep(project, "prune", "--workers", "1")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "1 of 2 points finished, 0 failed, 1 pruned" in output
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    runs = {
        run.data.params["simple2d.training.lr"]: run
        for run in _tree(client, _sweep_run_id(output))
    }
    kept, pruned = runs["0.01"], runs["1e-09"]
    assert "pytorch_intro.pruned_epoch" not in kept.data.tags
    assert pruned.data.tags["pytorch_intro.pruned_epoch"] == "1"
    assert pruned.info.status == "FINISHED"  # MLflow has no PRUNED status
    history = client.get_metric_history(pruned.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1]  # it stopped at once
    assert len(client.get_metric_history(kept.info.run_id, "val_accuracy")) == 3
