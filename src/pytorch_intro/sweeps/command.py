"""``kedro sweep <name>``: a sweep's points on the warm workers of a Dask cluster.

Each worker process imports the project once and runs its points in-process, a
Kedro session each (:mod:`pytorch_intro.sweeps.worker`), on a ``LocalCluster``
or, with ``--scheduler``, a running Dask cluster. A point whose worker dies is
KILLED (never retried: it could kill the next worker too).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
import dask
import mlflow
import pandas as pd
from distributed import Client, KilledWorker, LocalCluster, as_completed, wait
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from pytorch_intro.internals import saved_file
from pytorch_intro.sweeps.spec import Point, expand, parse_sweep
from pytorch_intro.sweeps.summary import plot_sweep
from pytorch_intro.sweeps.tracking import SweepTracker
from pytorch_intro.sweeps.worker import run_point, warm_up

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
    warming = []
    try:
        if scheduler is None:  # this machine's workers import while this sets up
            warming = _warm_up(client, project, env)
        spec, catalog, experiment = _load(name, env)
        uri = mlflow.get_tracking_uri()
        tracker = SweepTracker(MlflowClient(uri), experiment.experiment_id, name)
        _check_store(client, uri, scheduler)
        if scheduler is not None:
            warming = _warm_up(client, project, env)
        points = expand(spec)
        tracker.start(
            points, {"pipelines": ",".join(spec.pipelines), "points": len(points)}
        )
        click.echo(
            f"sweep {name}: {len(points)} points on "
            f"{len(client.scheduler_info()['workers'])} worker(s); MLflow sweep run "
            f"{tracker.run_id}; Dask dashboard: {client.dashboard_link or 'not available'}"
        )
        rows = _run(name, points, client, tracker, rerun, log_models)
        wait(warming)  # done long ago: the points ran after them
        table = pd.DataFrame(rows).convert_dtypes()
        failed = int(table["status"].isin(["FAILED", "KILLED"]).sum())
        swept = sorted(
            {k for p in points for k in p.swept if not k.endswith(".training.seed")}
        )
        files = []
        for dataset, data in {
            "summary": table,
            "accuracy": plot_sweep(table, swept),
        }.items():
            catalog.save(f"sweeps.{name}.{dataset}", data)
            if path := saved_file(catalog.get(f"sweeps.{name}.{dataset}")):
                files.append(path)
        tracker.finish(files, failed, _best(table))
        click.echo(
            f"sweep {name}: {len(points) - failed} of {len(points)} points "
            f"finished, {failed} failed; summary: {', '.join(map(str, files))}"
        )
    finally:
        client.close()
        if scheduler is None:
            client.cluster.close()
    sys.exit(1 if failed else 0)


def _warm_up(client: Client, project: str, env: str | None) -> list[Any]:
    """Each worker's imports and set-up, started now (keep the futures)."""
    return [
        client.submit(warm_up, project, env, workers=[address], pure=False)
        for address in client.scheduler_info()["workers"]
    ]


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
    futures = {}
    for point in points:
        earlier = None if rerun else tracker.finished(point)
        if earlier is not None:
            result = tracker.result(earlier.info.run_id)
            rows[point.id] = point.row(result | {"status": "SKIPPED", "seconds": 0.0})
            click.echo(
                f"{point.id}: skipped, FINISHED in run {earlier.info.run_id} "
                "(--rerun: again)"
            )
            continue
        run_id = tracker.create_point(point)
        future = client.submit(
            run_point,
            str(Path.cwd().resolve()),
            point,
            run_id,
            log_models,
            key=f"{name}-{point.id}-{run_id[:8]}",
            pure=False,
        )
        futures[future] = (point, run_id)
    skipped = done = len(rows)
    started = time.perf_counter()
    for future in as_completed(futures):
        point, run_id = futures[future]
        try:
            outcome = future.result()
        except KilledWorker as error:  # the process running it died
            outcome = {
                "returncode": -1,
                "seconds": time.perf_counter() - started,
                "error": f"its worker process died ({error})",
            }
        status = tracker.close_point(run_id, outcome)
        row = point.row(tracker.result(run_id))
        rows[point.id] = row | {"status": status, "seconds": outcome["seconds"]}
        done += 1
        elapsed = time.perf_counter() - started
        left = elapsed / (done - skipped) * (len(points) - done)
        values = " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.swept.items())
        result = (
            f"val_accuracy {row['val_accuracy']:.4f}"
            if status == "FINISHED"
            else f"({row['error']})"
        )
        click.echo(
            f"[{done}/{len(points)}] {point.id} {point.pipeline} {values}: "
            f"{status} {result} in {outcome['seconds']:.1f} s; "
            f"elapsed {elapsed:.0f} s, about {left:.0f} s left"
        )
    return [rows[p.id] for p in points]


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
