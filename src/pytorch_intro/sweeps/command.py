"""``kedro sweep <name>``: a sweep's points as ``kedro run`` processes on Dask.

The points run on a ``distributed.LocalCluster`` (one single-threaded worker
process per core) or, with ``--scheduler tcp://HOST:8786``, on a running Dask
cluster; each is its own ``kedro run`` (Kedro's guidance for distributed runs),
reporting to the project's MLflow tracking server. One line per finished
point (done/total, elapsed, estimated remaining); the summary table and figure
go to the catalog (``sweeps.<name>.summary``, ``sweeps.<name>.accuracy``) and
to the sweep's MLflow run. The exit status is 1 when a point failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
import mlflow
import pandas as pd
from distributed import Client, LocalCluster, as_completed
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from pytorch_intro.internals import saved_file
from pytorch_intro.sweeps.spec import Point, SweepSpec, expand, parse_sweep
from pytorch_intro.sweeps.summary import plot_sweep
from pytorch_intro.sweeps.tracking import SweepTracker
from pytorch_intro.sweeps.worker import run_point

logger = logging.getLogger(__name__)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class SweepError(click.ClickException):
    """A sweep that cannot start; the message says why and what to do."""


@dataclass
class Options:
    name: str
    scheduler: str | None
    workers: int | None
    rerun: bool
    env: str | None


def sweep(options: Options, project: Path) -> int:
    """Run the sweep; returns the exit status (0: every point FINISHED)."""
    metadata = bootstrap_project(project)
    with KedroSession.create(
        project_path=metadata.project_path, env=options.env
    ) as session:
        context = session.load_context()  # kedro-mlflow sets up tracking here
        spec = _spec(context.config_loader, options.name)
        catalog = context.catalog
        experiment = _experiment(context.config_loader)
    points = expand(spec)
    uri = mlflow.get_tracking_uri()
    tracker = SweepTracker(MlflowClient(uri), experiment, options.name)
    cluster = None
    if options.scheduler is None:
        cluster = LocalCluster(
            n_workers=options.workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )
    client = Client(cluster if cluster is not None else options.scheduler)
    try:
        _check_store(client, uri, options.scheduler)
        return _run(spec, points, options, project, client, tracker, catalog)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run(
    spec: SweepSpec,
    points: list[Point],
    options: Options,
    project: Path,
    client: Client,
    tracker: SweepTracker,
    catalog: Any,
) -> int:
    tracker.start(
        points, {"pipelines": ",".join(spec.pipelines), "points": len(points)}
    )
    click.echo(
        f"sweep {options.name}: {len(points)} points on "
        f"{len(client.scheduler_info()['workers'])} worker(s); MLflow sweep run "
        f"{tracker.run_id}; Dask dashboard: {client.dashboard_link or 'not available'}"
    )
    rows: dict[str, dict[str, Any]] = {}
    futures = {}
    for point in points:
        earlier = None if options.rerun else tracker.finished(point)
        if earlier is not None:
            rows[point.id] = _row(point, tracker.result(earlier.info.run_id)) | {
                "status": "SKIPPED",
                "seconds": 0.0,
            }
            continue
        run_id = tracker.create_point(point)
        future = client.submit(
            run_point,
            str(project.resolve()),
            point.pipeline,
            point.params_option(),
            point.env,
            run_id,
            point.id,
            _outputs(point.pipeline),
            key=f"{options.name}-{point.id}-{run_id[:8]}",
            pure=False,
        )
        futures[future] = (point, run_id)
    skipped = len(rows)
    for point_id, row in rows.items():
        click.echo(
            f"{point_id}: skipped, FINISHED in run {row['run_id']} (--rerun: again)"
        )
    started, done = time.perf_counter(), skipped
    for future in as_completed(futures):
        point, run_id = futures[future]
        outcome = future.result()
        status = tracker.close_point(run_id, outcome)
        rows[point.id] = _row(point, tracker.result(run_id)) | {
            "status": status,
            "seconds": outcome["seconds"],
        }
        done += 1
        elapsed = time.perf_counter() - started
        left = elapsed / (done - skipped) * (len(points) - done)
        click.echo(
            f"[{done}/{len(points)}] {point.id} {point.pipeline} "
            f"{_values(point)}: {status}"
            + (
                f" val_accuracy {rows[point.id]['val_accuracy']:.4f}"
                if status == "FINISHED"
                else f" ({rows[point.id]['error']})"
            )
            + f" in {outcome['seconds']:.1f} s; elapsed {elapsed:.0f} s, "
            f"about {left:.0f} s left"
        )
    table = pd.DataFrame([rows[p.id] for p in points]).convert_dtypes()
    failed = int(table["status"].isin(["FAILED", "KILLED"]).sum())
    swept = sorted(
        {k for p in points for k in p.swept if not k.endswith(".training.seed")}
    )
    artifacts = _save(catalog, options.name, table, plot_sweep(table, swept))
    tracker.finish(artifacts, failed, len(points))
    click.echo(
        f"sweep {options.name}: {len(points) - failed} of {len(points)} points "
        f"finished, {failed} failed; summary: {', '.join(map(str, artifacts))}"
    )
    return 1 if failed else 0


def _row(point: Point, result: dict[str, Any]) -> dict[str, Any]:
    return {"point": point.id, "pipeline": point.pipeline} | point.swept | result


def _values(point: Point) -> str:
    return " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.swept.items())


def _outputs(pipeline: str) -> list[str]:
    """What a point needs of its pipeline: the variant, not the report."""
    return [f"{pipeline}.report_entry", f"{pipeline}.servable"]


def _spec(loader: Any, name: str) -> SweepSpec:
    try:
        raw = loader["sweeps"] or {}
    except Exception:  # no sweep files at all
        raw = {}
    try:
        return parse_sweep(raw, name)
    except KeyError as error:
        raise SweepError(
            f"{error.args[0]} in conf/<env>/sweeps/; a sweep file is "
            f"conf/base/sweeps/{name}.yml with a top-level key {name}:"
        ) from None


def _experiment(loader: Any) -> str:
    config = loader["mlflow"] or {}
    name = ((config.get("tracking") or {}).get("experiment") or {}).get("name")
    experiment = mlflow.get_experiment_by_name(name or "Default")
    if experiment is None:
        experiment = mlflow.get_experiment(mlflow.create_experiment(name))
    return experiment.experiment_id


def _check_store(client: Any, uri: str, scheduler: str | None) -> None:
    """Workers on other hosts cannot write this host's SQLite (or folder) store."""
    scheme = urlparse(uri).scheme
    if scheme not in ("sqlite", "file", ""):
        return
    if scheduler is not None:
        client.wait_for_workers(1, timeout=60)
    here = LOCAL_HOSTS | {socket.gethostname()}
    with contextlib.suppress(OSError):  # a host name that does not resolve
        here.add(socket.gethostbyname(socket.gethostname()))
    hosts = {w["host"] for w in client.scheduler_info()["workers"].values()}
    remote = sorted(hosts - here)
    if remote:
        raise SweepError(
            f"workers on other hosts ({', '.join(remote)}) would write the MLflow "
            f"store {uri}, a file on this machine. Start a tracking server "
            "(mlflow server --backend-store-uri ... --artifacts-destination ... "
            "--host 0.0.0.0 --port 5000) and point the project at it "
            "(MLFLOW_TRACKING_URI=http://<server>:5000, or "
            "server.mlflow_tracking_uri in conf/<env>/mlflow.yml); see docs/sweeps.md"
        )


def _save(catalog: Any, name: str, table: pd.DataFrame, figure: Any) -> list[Path]:
    """Save the summary and figure through the catalog; returns their files."""
    files = []
    for dataset, data in (
        (f"sweeps.{name}.summary", table),
        (f"sweeps.{name}.accuracy", figure),
    ):
        catalog.save(dataset, data)
        path = saved_file(catalog.get(dataset))
        if path is not None:
            files.append(path)
    return files


def main(
    name: str, scheduler: str | None, workers: int | None, rerun: bool, env: str | None
) -> None:
    """The ``kedro sweep`` command's body (Dask is imported only from here)."""
    status = sweep(Options(name, scheduler, workers, rerun, env), Path.cwd())
    sys.exit(status)
