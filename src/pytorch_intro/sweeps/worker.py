"""What a Dask worker runs for one point: the point's Kedro session, in the
worker's own (warm) process.

A worker imports Kedro, torch and the project once (:func:`warm_up`) and then
runs point after point in-process, each in a new ``KedroSession`` that resumes
the point's MLflow run. Nothing of one point reaches the next: the environment
variables it sets, torch's threads, flush-to-zero and random state, logging's
levels and any MLflow run left active are put back as they were, and garbage
is collected. A point that raises is returned as an error (one point cannot
stop the others); a point that kills its process is seen by the driver as a
lost worker (Dask's nanny starts a new one). A point draws no figures; it saves
its servable model, and the sweep has the best point's logged as its MLflow
model at the end (:func:`log_model`).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytorch_intro.internals import saved_file
from pytorch_intro.sweeps import LOG_MODELS_ENV, POINT_ENV
from pytorch_intro.sweeps.spec import Point

_PROJECTS: set[str] = set()  # bootstrapped in this process
#: One point at a time in a process (a worker with several threads): a point
#: sets process-wide state (environment variables, MLflow's active run).
_ONE_AT_A_TIME = threading.Lock()


def warm_up(project: str, env: str | None = None) -> None:
    """Import and set up what a point needs, once per process: the project,
    its nodes' modules, and a first session's context (MLflow's store)."""
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    with _ONE_AT_A_TIME:
        if project in _PROJECTS:
            return
        bootstrap_project(Path(project))
        import pytorch_intro.train_eval.nodes  # noqa: F401, PLC0415 - heavy imports

        with _quiet(), KedroSession.create(project_path=Path(project), env=env) as s:
            s.load_context()
        _PROJECTS.add(project)
        # what is here now lives as long as the process: the full collection
        # after each point need not go through it again and again
        gc.collect()
        gc.freeze()


def run_point(
    project: str,
    point: Point,
    run_id: str,
    log_models: bool = False,
    trial: Any = None,
) -> dict[str, Any]:
    """The point's pipeline in ``project``, its MLflow run resumed from
    ``run_id``; how it ended (never raises). It runs to the variant's record
    (params, metrics) and its servable model (``servable``: the saved folder),
    draws no figures, and logs no MLflow model unless ``log_models``.
    With a search's Optuna ``trial``, it reports the validation accuracy after
    every epoch and stops training when the study's pruner says so
    (``pruned_epoch``: the last epoch it trained)."""
    started = time.perf_counter()
    error, pruned, servable = None, [], None

    def decide(epoch: int, accuracy: float) -> bool:
        trial.report(accuracy, epoch)
        if trial.should_prune():
            pruned.append(epoch)
        return bool(pruned)

    outputs = [f"{point.pipeline}.report_entry", f"{point.pipeline}.servable"]
    try:
        warm_up(project, point.env)
        from kedro.framework.session import KedroSession  # noqa: PLC0415

        from pytorch_intro.training.trainer import stop_early  # noqa: PLC0415

        with (
            _ONE_AT_A_TIME,
            _quiet(),
            _isolated(
                {"MLFLOW_RUN_ID": run_id, POINT_ENV: point.id}
                | ({LOG_MODELS_ENV: "1"} if log_models else {})
            ),
            stop_early(decide) if trial is not None else contextlib.nullcontext(),
            KedroSession.create(
                project_path=Path(project),
                env=point.env,
                runtime_params=_runtime_params(point),
            ) as session,
        ):
            saved = session.run(pipeline_names=[point.pipeline], to_outputs=outputs)
            servable = saved_file(saved[outputs[1]])
    except Exception as exc:  # noqa: BLE001 - reported as the point's error
        error = "".join(traceback.format_exception_only(exc)).strip()
    return {
        "returncode": 0 if error is None else 1,
        "seconds": time.perf_counter() - started,
        "error": error,
        "pruned_epoch": pruned[0] if pruned else None,
        "servable": servable,
    }


def log_model(
    project: str, env: str | None, run_id: str, pipeline: str, servable: str
) -> str:
    """Log the servable model a point of ``pipeline`` saved in ``servable``
    (see :func:`run_point`) as the MLflow model of its run ``run_id``, as a
    ``kedro run`` logs a variant's: with the run's params, and its metrics at
    their last step linked to the datasets they were measured on. Its model id.
    """
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    from pytorch_intro.hooks.models import (  # noqa: PLC0415
        ModelRecord,
        log_variant_model,
    )

    warm_up(project, env)  # MLflow's store, as the project sets it up
    with _ONE_AT_A_TIME, _quiet():
        record = ModelRecord.from_run(MlflowClient(), run_id, pipeline, Path(servable))
        log_variant_model(run_id, pipeline, record)
    return record.model_id


def _runtime_params(point: Point) -> dict[str, Any]:
    """The point's parameters as ``kedro run --params`` reads them (OmegaConf's
    dot list: ``a.b=[32]`` is the list ``[32]``, ``a.c=0.001`` a float)."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    return OmegaConf.to_container(OmegaConf.from_dotlist(point.dotlist()))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Warnings and errors only: a point's INFO lines would bury the sweep's.

    Also without Kedro's warning that a versioned dataset's latest version is
    another point's: each point loads back what it saved (``RunGuardHook``).
    """
    import kedro_mlflow  # noqa: F401, PLC0415 - it sets its logger's level on import

    names = ("", "kedro", "kedro_mlflow", "pytorch_intro")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Save version .* did not match load")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _isolated(environment: dict[str, str]) -> Iterator[None]:
    """Run a point with ``environment`` set, and leave this process as it was."""
    import mlflow  # noqa: PLC0415
    import torch  # noqa: PLC0415

    saved_env = {key: os.environ.get(key) for key in environment}
    threads = torch.get_num_threads()
    flushing = torch.tensor([1e-323], dtype=torch.float64).item() == 0.0
    os.environ.update(environment)
    status = "FAILED"
    try:
        with torch.random.fork_rng(devices=[]):
            yield
        status = "FINISHED"
    finally:
        # what kedro-mlflow leaves active, a process's exit would end: so here
        while mlflow.active_run() is not None:
            mlflow.end_run(status)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        torch.set_num_threads(threads)
        torch.set_flush_denormal(flushing)
        gc.collect()
