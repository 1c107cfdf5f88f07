"""``kedro sweep <name>``: a sweep's points on the warm workers of a Dask cluster.

Each worker process imports the project once and runs its points in-process, a
Kedro session each (:mod:`pytorch_intro.sweeps.worker`), on a ``LocalCluster``
or, with ``--scheduler``, a running Dask cluster. A point whose worker dies is
KILLED (never retried: it could kill the next worker too).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
import dask
import mlflow
import pandas as pd
from distributed import (
    Client,
    KilledWorker,
    LocalCluster,
    WorkerPlugin,
    fire_and_forget,
    wait,
)
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from pytorch_intro.internals import saved_file
from pytorch_intro.sweeps.search import (
    DONE,
    budget_left,
    next_point,
    open_study,
    quiet_storage,
    shared_storage,
    tell,
)
from pytorch_intro.sweeps.spec import Point, SweepSpec, expand, parse_sweep
from pytorch_intro.sweeps.summary import optuna_plots, plot_sweep
from pytorch_intro.sweeps.tracking import SERVABLE_TAG, SweepTracker
from pytorch_intro.sweeps.worker import log_model, run_point, warm_up

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class SweepError(click.ClickException):
    """A sweep that cannot start; the message says why and what to do."""


def main(
    name: str,
    scheduler: str | None,
    workers: int | None,
    rerun: bool,
    env: str | None,
    log_models: bool = False,
) -> None:
    """Run the sweep; exit 1 when a point failed (Dask is imported only here)."""
    # the sweep prints a line per point; Dask's INFO lines (start-up, and the
    # shutdown's closed connections, with tracebacks) would bury them
    logging.getLogger("distributed").setLevel(logging.WARNING)
    project = str(Path.cwd().resolve())
    tracker, code = None, 0
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        client = Client(
            scheduler
            or LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            )
        )
    try:
        client.register_plugin(_SweepWorker(local=scheduler is None), name="sweep")
        if scheduler is None:  # this machine's workers import while this sets up
            _warm_up(client, project, env)
        spec, catalog, experiment = _load(name, env)
        uri = mlflow.get_tracking_uri()
        tracker = SweepTracker(MlflowClient(uri), experiment.experiment_id, name)
        _check_store(client, uri, scheduler)
        if scheduler is not None:
            _warm_up(client, project, env)
        points, study, left, size = _plan(name, spec, catalog, client)
        tracker.start(points, {"pipelines": ",".join(spec.pipelines)} | size)
        before = (
            "" if study is None else f" ({len(study.get_trials(states=DONE))} before)"
        )
        click.echo(
            f"sweep {name}: {len(points) or left} points{before} on "
            f"{len(client.scheduler_info()['workers'])} worker(s); MLflow sweep run "
            f"{tracker.run_id}; Dask dashboard: {client.dashboard_link or 'not available'}"
        )
        if study is None:
            rows = _run(name, points, client, tracker, rerun, log_models)
        else:
            rows, points = _search(name, spec, study, left, client, tracker, log_models)
        table = pd.DataFrame(rows).convert_dtypes()
        failed = int(table["status"].isin(["FAILED", "KILLED"]).sum())
        best = _best(table)
        with (  # with --log-models, every point has its model
            _logging_best_model(client, tracker, best, project, env)
            if best is not None and not log_models
            else contextlib.nullcontext()
        ):
            files = _save(name, table, points, study, catalog)
        tracker.finish(files, failed, best)
        pruned = int((table["status"] == "PRUNED").sum())
        click.echo(
            f"sweep {name}: {len(table) - failed - pruned} of {len(table)} points "
            f"finished, {failed} failed"
            + (f", {pruned} pruned" if pruned else "")
            + f"; summary: {', '.join(map(str, files))}"
        )
        code = 1 if failed else 0
    except KeyboardInterrupt:  # Ctrl-C: what ran is kept, the rest runs next time
        if scheduler is None:  # first: a point a worker starts now stays RUNNING
            client.cluster.close()
        killed = 0 if tracker is None else tracker.interrupted()
        click.echo(
            f"sweep {name} interrupted: {killed} running point(s) marked KILLED; "
            "start it again to resume",
            err=True,
        )
        code = 130
    finally:
        client.close()
        if scheduler is None:
            client.cluster.close()
    # the process's exit frees everything: its last garbage collections need
    # not go through all of it first (about a second of the exit)
    gc.freeze()
    sys.exit(code)


def _plan(
    name: str, spec: SweepSpec, catalog: Any, client: Client
) -> tuple[list[Point], Any, int, dict[str, Any]]:
    """A grid's points, or a search's study and how many points it has left;
    the sizes the sweep's run records."""
    if spec.search is None:
        points = expand(spec)
        return points, None, 0, {"points": len(points)}
    # Optuna chooses the points, up to the budget
    url = catalog.load(f"sweeps.{name}.study")
    study = open_study(spec, name, shared_storage(client, url))
    left, search = budget_left(study, spec), spec.search
    size = {"budget": left, "sampler": search.sampler, "pruner": search.pruner.kind}
    return [], study, left, size


def _save(
    name: str, table: pd.DataFrame, points: list[Point], study: Any, catalog: Any
) -> list[Path]:
    """The summary table and figures, saved (versioned): their files."""
    swept = sorted(
        {k for p in points for k in p.swept if not k.endswith(".training.seed")}
    )
    figures = {"summary": table, "accuracy": plot_sweep(table, swept)}
    if study is not None:
        figures |= {f"optuna_{k}": v for k, v in optuna_plots(study).items()}
    files = []
    for dataset, data in figures.items():
        catalog.save(f"sweeps.{name}.{dataset}", data)
        if path := saved_file(catalog.get(f"sweeps.{name}.{dataset}")):
            files.append(path)
    return files


class _SweepWorker(WorkerPlugin):
    """Set up each worker of a sweep (restarted ones too): a search's trials
    unpickle without a warning each; a ``local`` one leaves Ctrl-C to the
    sweep, which stops it (a cluster's own workers keep theirs)."""

    def __init__(self, local: bool) -> None:
        self.local = local

    def setup(self, worker: Any) -> None:
        quiet_storage()
        if self.local and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm_up(client: Client, project: str, env: str | None) -> None:
    """Each worker's imports and set-up, started now; nothing waits for them
    (a point warms its worker up anyway, and a worker may die first)."""
    fire_and_forget(
        [
            client.submit(warm_up, project, env, workers=[address], pure=False)
            for address in client.scheduler_info()["workers"]
        ]
    )


def _load(name: str, env: str | None) -> tuple[Any, Any, Any]:
    """The sweep's spec, the project's catalog and its MLflow experiment."""
    metadata = bootstrap_project(Path.cwd())
    with KedroSession.create(project_path=metadata.project_path, env=env) as session:
        context = session.load_context()
        try:
            raw = context.config_loader["sweeps"] or {}
        except Exception:  # no sweep files at all
            raw = {}
        try:
            spec = parse_sweep(raw, name)
        except KeyError as error:
            raise SweepError(
                f"{error.args[0]} in conf/<env>/sweeps/; a sweep file is "
                f"conf/base/sweeps/{name}.yml with a top-level key {name}:"
            ) from None
        # kedro-mlflow has set up tracking and created the experiment
        experiment = mlflow.get_experiment_by_name(
            context.mlflow.tracking.experiment.name
        )
        return spec, context.catalog, experiment


def _best(table: pd.DataFrame) -> dict[str, Any] | None:
    """The summary row of the point with the best final accuracy, if any."""
    done = table[table["status"].isin(["FINISHED", "SKIPPED"])]
    if done.empty or done["val_accuracy"].isna().all():
        return None
    return done.loc[done["val_accuracy"].astype(float).idxmax()].to_dict()


@contextlib.contextmanager
def _logging_best_model(
    client: Client,
    tracker: SweepTracker,
    best: dict[str, Any],
    project: str,
    env: str | None,
) -> Iterator[None]:
    """The ``best`` point's MLflow model, logged in its run by a worker (from
    the servable model the point saved) while the body runs; none when a
    former sweep has logged it."""
    run = tracker.client.get_run(best["run_id"])
    servable = run.data.tags.get(SERVABLE_TAG)
    if run.outputs.model_outputs or servable is None:
        yield
        return
    future = client.submit(
        log_model, project, env, run.info.run_id, best["pipeline"], servable, pure=False
    )
    yield
    try:
        model_id = future.result()
    except Exception as error:  # noqa: BLE001 - the sweep's results stand without it
        click.echo(f"the best point's model was not logged: {error}")
    else:
        click.echo(f"the best point's MLflow model: {model_id} (run {run.info.run_id})")


def _run(
    name: str,
    points: list[Point],
    client: Client,
    tracker: SweepTracker,
    rerun: bool,
    log_models: bool,
) -> list[dict[str, Any]]:
    """Run (or skip) every point, a progress line each; their summary rows."""
    rows: dict[str, dict[str, Any]] = {}
    todo = []
    for point in points:
        earlier = None if rerun else tracker.finished(point)
        if earlier is None:
            todo.append(point)
            continue
        result = tracker.result(earlier.info.run_id)
        rows[point.id] = point.row(result | {"status": "SKIPPED", "seconds": 0.0})
        click.echo(
            f"{point.id}: skipped, FINISHED in run {earlier.info.run_id} "
            "(--rerun: again)"
        )
    skipped, started = len(rows), time.perf_counter()
    for point, run_id, outcome in _points(name, todo, client, tracker, log_models):
        status = tracker.close_point(run_id, outcome)
        rows[point.id] = point.row(tracker.result(run_id)) | {
            "status": status,
            "seconds": outcome["seconds"],
        }
        _progress(len(rows), skipped, len(points), point, rows[point.id], started)
    return [rows[p.id] for p in points]


def _points(
    name: str,
    points: Iterable[Point | Callable[[], tuple[Point, Any]]],
    client: Client,
    tracker: SweepTracker,
    log_models: bool,
) -> Iterator[tuple[Point, str, dict[str, Any]]]:
    """Run ``points`` (or, for a search, callables that ask for the next point
    and its trial), each on a worker running no other; yield each as it ends:
    the point, its run, how it ended (with its ``trial``).

    One per worker: a point queued behind another on a worker that dies would be
    lost with it.
    """
    pending: dict[Any, tuple[Point, str, Any, float, str]] = {}
    todo, item = iter(points), None
    while True:
        running = {entry[4] for entry in pending.values()}
        free = [w for w in client.scheduler_info()["workers"] if w not in running]
        while free and (item := next(todo, None)) is not None:
            point, trial = item() if callable(item) else (item, None)
            run_id = tracker.create_point(point)
            if trial is not None:
                trial.set_user_attr("run_id", run_id)
                trial.set_user_attr("pipeline", point.pipeline)
                trial.set_user_attr("swept", point.swept)
            address = free.pop()
            future = client.submit(
                run_point,
                str(Path.cwd().resolve()),
                point,
                run_id,
                log_models,
                trial,
                key=f"{name}-{point.id}-{run_id[:8]}",
                workers=[address],  # only there (a dead one fails it: KILLED)
                pure=False,
            )
            pending[future] = (point, run_id, trial, time.perf_counter(), address)
        if not pending and item is not None:  # every worker is restarting
            client.wait_for_workers(1)
            continue
        if not pending:
            return
        finished, _ = wait(list(pending), return_when="FIRST_COMPLETED")
        for future in finished:
            point, run_id, trial, started, _ = pending.pop(future)
            try:
                outcome = future.result()
            except KilledWorker as error:  # the process running it died
                outcome = {
                    "returncode": -1,
                    "seconds": time.perf_counter() - started,
                    "error": f"its worker process died ({error})",
                }
            # forget it: a worker dying later would have Dask run it again
            future.release()
            yield point, run_id, outcome | {"trial": trial}


def _search(
    name: str,
    spec: SweepSpec,
    study: Any,
    left: int,
    client: Client,
    tracker: SweepTracker,
    log_models: bool,
) -> tuple[list[dict[str, Any]], list[Point]]:
    """Ask Optuna for ``left`` points, as many at once as there are workers;
    the summary rows (a former run's points first, SKIPPED) and the points."""
    rows, points = [], []
    for trial in study.get_trials(states=DONE):  # a former run's
        run_id = trial.user_attrs["run_id"]
        point = Point(
            trial.number + 1,
            trial.user_attrs["pipeline"],
            trial.user_attrs["swept"],
            {},  # (ran before: its parameters are in its run)
            spec.env,
        )
        pruned = trial.state == TrialState.PRUNED
        status = "PRUNED" if pruned else "SKIPPED"
        rows.append(
            point.row(tracker.result(run_id) | {"status": status, "seconds": 0.0})
        )
    skipped, total = len(rows), len(rows) + left
    started = time.perf_counter()

    def ask() -> tuple[Point, Any]:
        trial = study.ask()
        points.append(point := next_point(trial, spec))
        return point, trial

    asks = (ask for _ in range(left))
    for point, run_id, outcome in _points(name, asks, client, tracker, log_models):
        trial = outcome["trial"]
        status = tracker.close_point(run_id, outcome)
        result = tracker.result(run_id)
        if status == "FINISHED" and outcome.get("pruned_epoch"):
            tracker.mark_pruned(run_id, outcome["pruned_epoch"])
            tell(study, trial, state=TrialState.PRUNED)
            status = "PRUNED"
        elif status == "FINISHED":
            tell(study, trial, values=result["val_accuracy"])
        else:
            tell(study, trial, state=TrialState.FAIL)
        rows.append(
            point.row(result) | {"status": status, "seconds": outcome["seconds"]}
        )
        _progress(len(rows), skipped, total, point, rows[-1], started)
    return rows, points


def _progress(
    done: int,
    skipped: int,
    total: int,
    point: Point,
    row: dict[str, Any],
    started: float,
) -> None:
    """The line of a point that ended: done/total, its result, time left."""
    elapsed = time.perf_counter() - started
    left = elapsed / (done - skipped) * (total - done)
    values = " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.swept.items())
    status = row["status"]
    if status in ("FINISHED", "PRUNED"):
        result = f"val_accuracy {row['val_accuracy']:.4f}"
    else:
        result = f"({row['error']})"
    click.echo(
        f"[{done}/{total}] {point.id} {point.pipeline} {values}: "
        f"{status} {result} in {row['seconds']:.1f} s; "
        f"elapsed {elapsed:.0f} s, about {left:.0f} s left"
    )


def _check_store(client: Any, uri: str, scheduler: str | None) -> None:
    """Workers on other hosts cannot write this host's SQLite (or folder) store."""
    if urlparse(uri).scheme not in ("sqlite", "file", ""):
        return
    if scheduler is not None:
        client.wait_for_workers(1, timeout=60)
    here = LOCAL_HOSTS | {socket.gethostname()}
    with contextlib.suppress(OSError):  # a host name that does not resolve
        here.add(socket.gethostbyname(socket.gethostname()))
    hosts = {w["host"] for w in client.scheduler_info()["workers"].values()}
    if remote := sorted(hosts - here):
        raise SweepError(
            f"workers on other hosts ({', '.join(remote)}) would write the MLflow "
            f"store {uri}, a file on this machine. Start a tracking server "
            "(mlflow server --backend-store-uri ... --artifacts-destination ... "
            "--host 0.0.0.0 --port 5000) and point the project at it "
            "(MLFLOW_TRACKING_URI=http://<server>:5000, or "
            "server.mlflow_tracking_uri in conf/<env>/mlflow.yml); see docs/sweeps.md"
        )
