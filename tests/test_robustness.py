"""Robustness: a bad input or environment stops a run early with one clear
message, and no run loses an earlier result.

The checks on data files and parameters are tested where they are raised
(test_mnist.py, test_points.py, test_datasets.py, test_training.py,
test_models.py); this module covers the checks made before a pipeline starts,
the environment (MLflow store, output folders, permissions, two runs at once),
Ctrl-C, model files and determinism.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.io import DatasetError, Version
from kedro.pipeline import Pipeline
from kedro.runner import ParallelRunner, SequentialRunner, ThreadRunner
from kedro_datasets.pandas import CSVDataset
from mlflow.tracking import MlflowClient

from pytorch_intro import preflight
from pytorch_intro.datasets import TorchModelDataset
from pytorch_intro.hooks import RunGuardHook, RunInterrupted, pin_load_version
from pytorch_intro.hooks.run_guard import _parameter_keys, check_runner
from pytorch_intro.internals import runner_name
from pytorch_intro.models.checkpoint import load_checkpoint
from pytorch_intro.pipeline_registry import register_pipelines
from pytorch_intro.pipelines.simple2d import create_pipeline as simple2d_pipeline
from pytorch_intro.preflight import (
    PreflightError,
    check_parameter_blocks,
    check_sqlite_store,
    check_writable,
    sqlite_store_path,
)
from pytorch_intro.validation import ConfigError
from tests.conftest import (
    kedro_project,
    load_parameters,
    make_project,
    parameter_feed,
    run_in_memory,
)

KEDRO = str(Path(sys.executable).with_name("kedro"))
ENV = os.environ | {
    "DO_NOT_TRACK": "true",
    "KEDRO_DISABLE_TELEMETRY": "true",
    "PYTHONUNBUFFERED": "1",
    "COLUMNS": "300",  # one line per message in the captured output
}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _without_permission_override() -> list[str]:
    """A command prefix under which file permissions apply (even to root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot apply")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=cwd,
        env=ENV,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python without permission override."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    return _run([*_without_permission_override(), *command], cwd)


def _kedro_run(project: Path, *args: str, prefix=()) -> subprocess.CompletedProcess:
    return _run([*prefix, KEDRO, "run", "--env", "test", *args], project)


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _runs(project: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=1000
    )


def _new_store(path: Path) -> None:
    """An MLflow store with its tables, as after a first run."""
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()


# --- the MLflow store ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:///mlflow.db", "/project/mlflow.db"),
        ("sqlite:////srv/stores/mlflow.db", "/srv/stores/mlflow.db"),
        ("sqlite:///:memory:", None),
        ("http://127.0.0.1:5000", None),
        ("file:///tmp/mlruns", None),
    ],
)
def test_store_path_is_read_like_mlflow_reads_it(uri, expected):
    path = sqlite_store_path(uri, Path("/project"))
    assert (str(path) if path else None) == expected


@pytest.mark.slow
def test_a_locked_store_is_refused_after_waiting(tmp_path):
    store = tmp_path / "mlflow.db"
    _new_store(store)
    holder = sqlite3.connect(store)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(PreflightError) as error:
            check_sqlite_store(store, timeout=0.2)
    finally:
        holder.rollback()
        holder.close()
    assert _flat(str(error.value)).startswith(
        f"MLflow store {store} is locked by another process (still locked after 0.2 s)."
    )
    check_sqlite_store(store, timeout=0.2)  # free again: accepted


def test_a_store_that_is_not_a_database_or_is_a_folder_is_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not an sqlite file " * 100)
    with pytest.raises(PreflightError, match="is not a usable SQLite database"):
        check_sqlite_store(junk, timeout=0.2)
    assert junk.read_bytes() == b"not an sqlite file " * 100  # left as it was
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(PreflightError, match="is a folder, not an SQLite database"):
        check_sqlite_store(tmp_path / "folder.db", timeout=0.2)


@pytest.mark.slow
def test_read_only_store_and_folders_are_refused_with_the_fix(tmp_path):
    store = tmp_path / "store" / "mlflow.db"
    store.parent.mkdir()
    _new_store(store)
    store.chmod(0o444)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = _python(
        f"""
        from pathlib import Path
        from pytorch_intro.preflight import PreflightError, check_sqlite_store, check_writable
        for check, arg in [
            (check_sqlite_store, Path({str(store)!r})),
            (check_sqlite_store, Path({str(locked / "mlflow.db")!r})),
            (check_writable, [Path({str(locked / "06_models/model.pt")!r})]),
        ]:
            try:
                check(arg)
                print("accepted")
            except PreflightError as error:
                print(error)
        """,
        tmp_path,
    )
    store.chmod(0o644)
    locked.chmod(0o755)
    assert result.returncode == 0, result.stderr
    read_only, new_store, outputs = result.stdout.splitlines()
    assert read_only.startswith(f"MLflow store {store} is read-only (attempt to write")
    assert "Make the file and its folder writable" in read_only
    assert new_store.startswith(
        f"MLflow store {locked / 'mlflow.db'}: cannot create it, {locked} is not a "
        "writable folder (Permission denied)."
    )
    assert outputs.startswith(
        f"Cannot write {locked / '06_models/model.pt'}: the folder {locked} is not "
        f"writable (Permission denied). Make it writable (chmod u+w {locked})"
    )


@pytest.mark.slow
def test_kedro_run_on_a_read_only_store_stops_before_anything_runs(tmp_path):
    project = make_project(tmp_path / "project")
    _new_store(project / "mlflow.db")
    before = (project / "mlflow.db").read_bytes()
    (project / "mlflow.db").chmod(0o444)
    result = _kedro_run(
        project, "--pipelines", "simple2d", prefix=_without_permission_override()
    )
    (project / "mlflow.db").chmod(0o644)
    output = _flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert (
        f"PreflightError: MLflow store {project / 'mlflow.db'} is read-only" in output
    )
    assert (project / "mlflow.db").read_bytes() == before
    assert not (project / "data/06_models").exists()


@pytest.mark.slow
def test_a_locked_store_stops_the_session_before_kedro_mlflow_writes(
    tmp_path, monkeypatch
):
    project = make_project(tmp_path / "project")
    store = project / "mlflow.db"
    _new_store(store)
    monkeypatch.setattr(preflight, "STORE_LOCK_TIMEOUT", 0.5)
    holder = sqlite3.connect(store)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with (
            kedro_project(project),
            KedroSession.create(project_path=project, env="test") as session,
            pytest.raises(PreflightError, match="is locked by another process"),
        ):
            session.run(pipeline_names=["simple2d"])
    finally:
        holder.rollback()
        holder.close()
    assert _runs(project) == []
    assert not (project / "data/06_models").exists()


# --- checks before a pipeline starts ------------------------------------------------


def test_unwritable_output_locations_are_refused(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/06_models").write_text("a file where a folder belongs")
    target = tmp_path / "data/06_models/simple2d/mlp/model.pt"
    with pytest.raises(PreflightError) as error:
        check_writable([tmp_path / "data/07_model_output/x.csv", target])
    assert str(error.value).startswith(
        f"Cannot write {target}: {tmp_path / 'data/06_models'} is a file where a "
        "folder is needed."
    )
    check_writable([tmp_path / "data/07_model_output/x.csv"])
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["06_models"]


def test_a_parameter_block_no_node_reads_is_refused():
    used = {"digits": {"data", "training", "linear", "mlp", "cnn"}}
    with pytest.raises(ConfigError) as error:
        check_parameter_blocks({"digits": {"linear": {}, "resnet": {}}}, used)
    assert str(error.value).startswith(
        "Parameter 'digits.resnet' is not read by any node: digits has the variants "
        "and settings cnn, data, linear, mlp, training."
    )
    check_parameter_blocks({"digits": {"linear": {}}, "other": {"x": 1}}, used)


@pytest.mark.parametrize(
    ("change", "runtime_params", "message"),
    [
        (
            "misspelt variant",
            {"simple2d": {"mlpp": {"title": "MLP"}}},
            r"ConfigError: Parameter 'simple2d\.mlpp' is not read by any node",
        ),
        (
            "a file where the models folder belongs",
            None,
            r"PreflightError: Cannot write .*/data/06_models/simple2d/.*: "
            r".*/data/06_models is a file where a folder is needed",
        ),
    ],
)
def test_a_refused_run_starts_nothing_and_records_nothing(
    tmp_path, change, runtime_params, message
):
    project = make_project(tmp_path / "project")
    if change.startswith("a file"):
        # data/ exists only where make_project copied the MNIST files into it
        (project / "data").mkdir(exist_ok=True)
        (project / "data/06_models").write_text("not a folder")
    with (
        kedro_project(project),
        KedroSession.create(
            project_path=project, env="test", runtime_params=runtime_params
        ) as session,
        pytest.raises(Exception) as error,
    ):
        session.run(pipeline_names=["simple2d"])
    assert re.search(message, f"{type(error.value).__name__}: {error.value}")
    assert _runs(project) == []  # not even a parent run
    assert not (project / "data/01_raw/simple2d").exists()
    assert not (project / "data/07_model_output").exists()


def test_only_the_sequential_runner_is_accepted_and_checked_first():
    # run_params["runner"] as KedroSession.run records it ("None": no runner given)
    for accepted in ({}, {"runner": "None"}, {"runner": str(SequentialRunner())}):
        check_runner(runner_name(accepted))
    for runner in (ThreadRunner(), ParallelRunner()):
        name = type(runner).__name__
        with pytest.raises(PreflightError) as error:
            # no catalog: the runner is checked before anything is read
            RunGuardHook().before_pipeline_run(
                {"runner": str(runner)}, Pipeline([]), catalog=None
            )
        assert str(error.value) == (
            f"Runner {name} is not supported: this project's hooks (one MLflow "
            "child run per variant, stopping cleanly on Ctrl-C) need the nodes to "
            "run one at a time in the main thread. Run with "
            "--runner=SequentialRunner, the default (or leave out --runner)."
        )


@pytest.mark.slow
def test_kedro_run_with_another_runner_stops_before_anything_runs(tmp_path):
    project = make_project(tmp_path / "project")
    result = _kedro_run(project, "--pipelines", "simple2d", "--runner=ThreadRunner")
    output = _flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert (
        "PreflightError: Runner ThreadRunner is not supported: this project's hooks"
        in output
    )
    assert "Run with --runner=SequentialRunner, the default" in output
    assert _runs(project) == []  # kedro-mlflow opened no run
    assert not (project / "data/06_models").exists()
    assert not (project / "data/01_raw/simple2d").exists()


def test_registered_pipelines_read_every_shipped_parameter_block():
    pipelines = register_pipelines()
    params = load_parameters("base")
    used = _parameter_keys(pipelines["__default__"], pipelines.values())
    assert set(used) == {"simple2d", "digits"}
    check_parameter_blocks(params, used)  # the shipped configuration passes
    for env in ("fast", "test"):
        check_parameter_blocks(load_parameters(env), used)


# --- Ctrl-C ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "how"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")]
)
def test_a_stop_signal_while_a_file_is_written_stops_after_that_file(signum, how):
    hook = RunGuardHook()
    hook._install_interrupt_handler()
    try:
        hook.before_node_run(type("N", (), {"name": "digits.cnn.train_model"}))
        hook.before_dataset_saved()
        os.kill(os.getpid(), signum)  # handled: no exception mid-write
        with pytest.raises(RunInterrupted) as error:
            hook.after_dataset_saved("digits.cnn.model")
    finally:
        hook.on_pipeline_error()
    assert str(error.value).startswith(
        f"Run interrupted ({how}) during node 'digits.cnn.train_model'."
    )
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.fixture(scope="module")
def concurrent_runs(tmp_path_factory):
    """Two `kedro run`s started together on one new MLflow store and data folder."""
    project = make_project(tmp_path_factory.mktemp("concurrent"))
    commands = [
        [KEDRO, "run", "--env", "test", "--pipelines", "simple2d", *extra]
        for extra in ([], ["--params", "simple2d.generator.seed=1"])
    ]
    processes = [
        subprocess.Popen(
            command,
            cwd=project,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for command in commands
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    return project, [p.returncode for p in processes], outputs


@pytest.mark.slow
def test_two_runs_at_once_both_finish_without_mixing_their_results(concurrent_runs):
    project, codes, outputs = concurrent_runs
    assert codes == [0, 0], outputs
    runs = _runs(project)
    parents = {
        r.info.run_id: r for r in runs if "mlflow.parentRunId" not in r.data.tags
    }
    assert len(parents) == 2
    assert {p.info.status for p in parents.values()} == {"FINISHED"}
    for parent_id in parents:
        children = [
            r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id
        ]
        assert sorted(r.info.run_name for r in children) == [
            "simple2d.linear",
            "simple2d.mlp",
            "simple2d.polar_linear",
        ]
        assert all(r.info.status == "FINISHED" for r in children)
        assert all("val_accuracy" in r.data.metrics for r in children)
    # each run's results name its own MLflow run and its own generator seed
    versions = sorted((project / "data/08_reporting/simple2d_results.json").iterdir())
    assert len(versions) == 2
    seeds = {}
    for version in versions:
        results = json.loads((version / "simple2d_results.json").read_text())
        run_id = results["identity"]["mlflow_run_id"]
        seeds[run_id] = results["data"]["seed"]
        generator = parents[run_id].data.params["simple2d.generator"]
        assert f"(seed={seeds[run_id]}," in generator
        assert f"/{version.name}/" in results["data"]["train_source"]  # its own points
    assert sorted(seeds.values()) == [0, 1]


def _long_simple2d_run(project: Path) -> subprocess.Popen:
    """A 2D run of 1000 epochs (to be interrupted), its output on ``stdout``."""
    return subprocess.Popen(
        [KEDRO, "run", "--env", "test", "--pipelines", "simple2d"]
        + ["--params", "simple2d.training.epochs=1000"],
        cwd=project,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_ctrl_c_mid_training_keeps_every_earlier_file_and_marks_the_run_killed(
    concurrent_runs,
):
    project = concurrent_runs[0]
    before = _snapshot(project / "data")
    process = _long_simple2d_run(project)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "epoch 02/1000" in line:
            process.send_signal(signal.SIGINT)
            break
    output = _flat("".join(lines) + process.communicate(timeout=120)[0])
    assert process.returncode not in (0, None)
    # the variants train at the same time: the message names each running node
    stopped = re.search(
        r"RunInterrupted: Run interrupted \(Ctrl-C\) during nodes? (.*?)\. Files "
        r"written before the interruption are complete, earlier versions are "
        r"untouched, and this run's MLflow runs are marked KILLED\.",
        output,
    )
    assert stopped, output[-3000:]
    assert "'simple2d.linear.train_model'" in stopped[1]
    after = _snapshot(project / "data")
    assert {k: after.get(k) for k in before} == before  # nothing changed or deleted
    new = sorted(set(after) - set(before))
    # only the generated point sets and their plot (nodes before training) are new
    upstream = ("01_raw/simple2d/generated/", "08_reporting/simple2d/point_sets.png/")
    assert new and all(name.startswith(upstream) for name in new), new
    for name in new:  # and each is complete
        path = project / "data" / name
        if path.suffix == ".npz":
            with np.load(path) as points:
                assert points.files
        else:
            assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not [p for p in (project / "data").rglob(".*") if p.is_file()]
    for model in (project / "data/06_models").rglob("model.pt/*/model.pt"):
        load_checkpoint(model)  # every model under a final name is complete
    runs = _runs(project)
    latest = max(
        (r for r in runs if "mlflow.parentRunId" not in r.data.tags),
        key=lambda r: r.info.start_time,
    )
    assert latest.info.status == "KILLED"
    children = [
        r for r in runs if r.data.tags.get("mlflow.parentRunId") == latest.info.run_id
    ]
    assert all(r.info.status == "KILLED" for r in children)


# --- reading back what this run wrote --------------------------------------------------


@pytest.mark.slow
def test_a_run_reads_back_its_own_version_not_a_concurrent_runs(tmp_path):
    path = str(tmp_path / "history.csv")
    ours = CSVDataset(filepath=path, version=Version(None, "2026-01-01T10.00.00.000Z"))
    theirs = CSVDataset(
        filepath=path, version=Version(None, "2026-01-01T10.00.01.000Z")
    )
    theirs.save(pd.DataFrame({"run": ["theirs"]}))  # started later, saved first
    with pytest.warns(UserWarning, match="did not match load version"):
        ours.save(pd.DataFrame({"run": ["ours"]}))
    assert ours.load()["run"].tolist() == ["theirs"]  # Kedro: the latest version
    pin_load_version(ours)
    assert ours.load()["run"].tolist() == ["ours"]


# --- model files -------------------------------------------------------------------


class _Exploit:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_a_crafted_pickle_in_the_models_folder_is_refused_not_run(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    version = "2026-01-01T00.00.00.000Z"
    file = tmp_path / f"data/06_models/digits/cnn/model.pt/{version}/model.pt"
    file.parent.mkdir(parents=True)
    with file.open("wb") as handle:
        pickle.dump({"architecture": _Exploit(), "state_dict": {}}, handle)
    dataset = TorchModelDataset(
        filepath=str(tmp_path / "data/06_models/digits/cnn/model.pt"),
        version=Version(None, None),
    )
    with pytest.raises(DatasetError, match="not a loadable model checkpoint"):
        dataset.load()
    assert not (tmp_path / "PWNED").exists()


# --- raw data that cannot be read ----------------------------------------------------


@pytest.mark.slow
def test_unreadable_raw_folders_are_named_with_the_fix(tmp_path):
    mnist = tmp_path / "mnist"
    mnist.mkdir(mode=0o000)
    points = tmp_path / "simple2d"
    points.mkdir()
    (points / "train.npz").write_bytes(b"")
    (points / "train.npz").chmod(0o000)
    result = _python(
        f"""
        from pytorch_intro.datasets import MNISTDataset, PointSetDataset
        for dataset in [
            MNISTDataset(path={str(mnist)!r}, mirrors=["http://127.0.0.1:9/"]),
            PointSetDataset(filepath={str(points / "train.npz")!r}),
        ]:
            try:
                dataset.load()
                print("loaded")
            except Exception as error:
                print(str(error).splitlines()[-1])
        """,
        tmp_path,
    )
    mnist.chmod(0o755)
    (points / "train.npz").chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{mnist}: cannot read the folder (Permission denied); make it readable "
        f"(chmod u+rx {mnist})",
        f"{points / 'train.npz'}: cannot read it (Permission denied); make the file "
        f"and its folder readable (chmod u+r {points / 'train.npz'}, chmod u+rx "
        f"{points})",
    ]


# --- determinism -------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_same_metrics_and_another_seed_other_metrics_through_the_pipeline():
    params = load_parameters("test")
    pipeline = simple2d_pipeline()

    def accuracies(seed: int) -> dict[str, list[float]]:
        changed = params | {
            "simple2d": params["simple2d"]
            | {"training": params["simple2d"]["training"] | {"seed": seed}}
        }
        outputs = run_in_memory(pipeline, parameter_feed(changed))
        return {
            v: outputs[f"simple2d.{v}.history"]["val_loss"].tolist()
            for v in ("linear", "mlp", "polar_linear")
        }

    first, again, other = accuracies(0), accuracies(0), accuracies(1)
    assert first == again
    assert all(first[v] != other[v] for v in first)


class _Kept(logging.Handler):
    """Keeps the messages of one logger (Kedro's session resets the handlers)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.slow
def test_runs_left_by_a_killed_run_are_closed_at_the_start_of_the_next(tmp_path):
    # kill -9: no handler sees it, the runs stay RUNNING; the next run closes them
    project = make_project(tmp_path / "project")
    process = _long_simple2d_run(project)
    for line in process.stdout:
        if "epoch 02/1000" in line:
            process.kill()
            break
    process.communicate(timeout=60)
    left = {r.info.run_id: r.info.status for r in _runs(project)}
    # the parent and the variants started so far (they train at the same time)
    assert set(left.values()) == {"RUNNING"} and len(left) >= 2

    kept, logger = _Kept(), logging.getLogger("pytorch_intro.hooks.orphans")
    with (
        kedro_project(project),
        KedroSession.create(project_path=project, env="test") as session,
    ):
        logger.addHandler(kept)  # once the session has set up logging
        try:
            session.run(pipeline_names=["reporting"])
        finally:
            logger.removeHandler(kept)
    statuses = {r.info.run_id: r.info.status for r in _runs(project)}
    assert {run_id: statuses[run_id] for run_id in left} == dict.fromkeys(
        left, "KILLED"
    )
    [message] = kept.messages
    assert message.startswith(
        f"Marked KILLED {len(left)} MLflow run(s) whose process is gone:"
    )
    assert all(run_id in message for run_id in left)
