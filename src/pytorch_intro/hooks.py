"""Project hooks: one MLflow child run per model variant.

kedro-mlflow opens one parent run per ``kedro run``. This hook adds a child run
for every namespace whose datasets declare tracking in the catalog, e.g.::

    "{problem}.{variant}.history":
      ...
      metadata:
        mlflow: {metrics: true, artifact: true}

``metrics``: a per-epoch table (an ``epoch`` column) logged with step = epoch;
``params``: a flat dict logged as parameters; ``tags``: keys of that dict also
set as run tags (e.g. ``data_source``, to filter runs); ``artifact``: the file
the catalog just saved; ``run: parent`` records the dataset in the parent run
(the report) instead of a child run. Node code never calls MLflow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: runs are not serialised while setting up the store
    fcntl = None

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as registered_pipelines
from kedro.io import AbstractVersionedDataset, Version
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

from pytorch_intro import preflight
from pytorch_intro.preflight import (
    check_parameter_blocks,
    check_sqlite_store,
    check_writable,
    sqlite_store_path,
)

logger = logging.getLogger(__name__)

FINISHED = RunStatus.to_string(RunStatus.FINISHED)
FAILED = RunStatus.to_string(RunStatus.FAILED)
KILLED = RunStatus.to_string(RunStatus.KILLED)


#: The signals that stop a run cleanly, and how the message names them.
STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class RunInterrupted(Exception):  # noqa: N818 - reads as what happened
    """The user stopped the run (Ctrl-C / SIGINT, or SIGTERM).

    An ``Exception`` rather than ``KeyboardInterrupt``, so Kedro's error path
    runs: ``on_pipeline_error`` hooks close the MLflow runs (as KILLED).
    """


def _saved_file(dataset: Any) -> Path | None:
    """The local file a dataset has just written (its save version, if versioned)."""
    if isinstance(dataset, AbstractVersionedDataset):
        version = dataset.resolve_save_version()
        if version is None:
            return Path(dataset._filepath)
        return Path(dataset._get_versioned_path(version))
    filepath = getattr(dataset, "_filepath", None)
    return Path(filepath) if filepath is not None else None


class VariantRunsHook:
    """Records each model variant (node namespace) as a nested MLflow run.

    A child run ``<problem>.<variant>`` is created on the first tracked save in
    that namespace, tagged ``pipeline`` and ``variant``; it is marked FINISHED
    once all of the namespace's nodes have run, FAILED if the pipeline fails first.
    """

    def __init__(self) -> None:
        self._catalog: Any = None
        self._client: MlflowClient | None = None
        self._runs: dict[str, str] = {}
        self._pending: Counter[str] = Counter()
        self._seconds: Counter[str] = Counter()
        self._pipeline_names = ""
        self._parent: str | None = None

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        self._catalog = catalog
        self._runs = {}
        self._client = None
        self._pending = Counter(n.namespace for n in pipeline.nodes if n.namespace)
        self._seconds = Counter()
        names = run_params.get("pipeline_names") or run_params.get("pipeline_name")
        self._pipeline_names = (
            "+".join(names) if isinstance(names, list) else (names or "__default__")
        )
        # kedro-mlflow (a plugin, so registered later and called earlier) has
        # started the parent run by now.
        parent = mlflow.active_run()
        self._parent = parent.info.run_id if parent else None

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        if self._catalog is None:
            return
        dataset = self._catalog.get(dataset_name)
        spec = ((getattr(dataset, "metadata", None) or {}).get("mlflow")) or {}
        if not spec:
            return
        started = time.perf_counter()
        run_id = self._target_run(spec, node)
        if run_id is None:
            return
        client = self._get_client()
        if spec.get("params"):
            client.log_batch(run_id, params=_params(data))
        if spec.get("tags"):
            tags = [RunTag(key, str(data[key])) for key in spec["tags"] if key in data]
            client.log_batch(run_id, tags=tags)
        if spec.get("metrics"):
            client.log_batch(run_id, metrics=_metrics(data))
        if spec.get("artifact"):
            path = _saved_file(dataset)
            if path is None or not path.is_file():
                logger.warning("Cannot log %s to MLflow: no saved file", dataset_name)
            else:
                client.log_artifact(run_id, str(path))
        if spec.get("run") != "parent":  # a variant's logging time, for its log line
            self._seconds[node.namespace] += time.perf_counter() - started

    @hook_impl
    def before_node_run(self) -> None:
        # A node's outputs are saved after its after_node_run hook, so a variant
        # is complete only once the next node starts (or the pipeline ends).
        self._finish_completed()

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if node.namespace is not None:
            self._pending[node.namespace] -= 1

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._terminate(list(self._runs), FINISHED)

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        # Variants that completed were closed when the next node started; any
        # run still open belongs to the part that failed. kedro-mlflow has
        # closed the parent as FAILED; an interruption is recorded as KILLED.
        interrupted = isinstance(error, RunInterrupted)
        self._terminate(list(self._runs), KILLED if interrupted else FAILED)
        if interrupted and self._parent is not None:
            self._get_client().set_terminated(self._parent, KILLED)
            logger.info("MLflow run '%s' marked %s", self._parent, KILLED)

    def _finish_completed(self) -> None:
        done = [ns for ns in self._runs if self._pending[ns] <= 0]
        self._terminate(done, FINISHED)

    def _terminate(self, namespaces: list[str], status: str) -> None:
        for namespace in namespaces:
            started = time.perf_counter()
            self._get_client().set_terminated(self._runs.pop(namespace), status)
            seconds = self._seconds[namespace] + time.perf_counter() - started
            logger.info(
                "MLflow child run '%s' %s (logging took %.2fs)",
                namespace,
                status,
                seconds,
            )

    def _target_run(self, spec: dict[str, Any], node: Node) -> str | None:
        """The run a tracked dataset goes to: the parent or the variant's child."""
        if spec.get("run") == "parent":
            parent = mlflow.active_run()
            return parent.info.run_id if parent else None
        return self._run_for(node.namespace) if node.namespace else None

    def _get_client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient()
        return self._client

    def _run_for(self, namespace: str) -> str | None:
        if namespace in self._runs:
            return self._runs[namespace]
        parent = mlflow.active_run()
        if parent is None:  # kedro-mlflow tracking is disabled for this pipeline
            return None
        problem, _, variant = namespace.partition(".")
        run = self._get_client().create_run(
            experiment_id=parent.info.experiment_id,
            run_name=namespace,
            tags={
                "mlflow.parentRunId": parent.info.run_id,
                "pipeline": problem,
                "variant": variant or problem,
                "kedro_pipeline": self._pipeline_names,
            },
        )
        self._runs[namespace] = run.info.run_id
        logger.info("MLflow child run '%s' - '%s' started", namespace, run.info.run_id)
        return run.info.run_id


class RunGuardHook:
    """What keeps a failing or stopped run from costing earlier results.

    Before anything runs: the MLflow store must be writable (not locked, not
    read-only), every parameter block must be read by some node, and every
    output folder must be writable; otherwise the run stops with one message
    naming the store, key or folder. During the run: Ctrl-C (or SIGTERM)
    becomes ``RunInterrupted`` (so the MLflow runs are closed as KILLED), never in the
    middle of writing a file; and a versioned output is read back as the
    version this run wrote, even if a concurrent run wrote a newer one since.
    """

    def __init__(self) -> None:
        self._saving = 0
        self._interrupted: tuple[str, str] | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._node = ""
        self._catalog: Any = None

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        # Before kedro-mlflow's own hook, which writes to the store at once.
        patterns = context.config_loader.config_patterns
        patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
        try:
            config = context.config_loader["mlflow"] or {}
        except Exception:  # no mlflow.yml: kedro-mlflow's defaults apply
            config = {}
        uri = str(
            (config.get("server") or {}).get("mlflow_tracking_uri")
            or os.environ.get("MLFLOW_TRACKING_URI", "")
        )
        store = sqlite_store_path(uri, Path.cwd())
        if store is None:
            return
        check_sqlite_store(store, preflight.STORE_LOCK_TIMEOUT)
        experiment = (config.get("tracking") or {}).get("experiment") or {}
        with _exclusive(store):
            # Create the tables (and the experiment) one run at a time: two runs
            # starting together on a new store would both try to (and one fail).
            client = MlflowClient(tracking_uri=uri)
            name = experiment.get("name") or "Default"
            if (
                not experiment.get("create_experiment_kwargs")
                and client.get_experiment_by_name(name) is None
            ):
                client.create_experiment(name)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        # Before kedro-mlflow opens the run: a refused run leaves no trace.
        check_parameter_blocks(
            catalog.load("parameters"),
            _parameter_keys(pipeline, registered_pipelines.values()),
        )
        check_writable(_output_files(pipeline, catalog))
        self._catalog = catalog
        self._install_interrupt_handler()

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._node = node.name

    @hook_impl
    def before_dataset_saved(self) -> None:
        self._saving += 1

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        self._saving -= 1
        if self._catalog is not None:
            pin_load_version(self._catalog.get(dataset_name))
        if self._interrupted and self._saving == 0:
            self._raise_interrupted()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore_interrupt_handler()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore_interrupt_handler()

    def _install_interrupt_handler(self) -> None:
        self._saving, self._interrupted = 0, None
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only
        self._previous_handlers = {
            signum: signal.signal(signum, self._on_interrupt) for signum in STOP_SIGNALS
        }

    def _restore_interrupt_handler(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        # A second Ctrl-C (or SIGTERM) gets Python's default behaviour.
        self._restore_interrupt_handler()
        self._interrupted = (STOP_SIGNALS[signum], self._node or "start-up")
        if self._saving == 0:
            self._raise_interrupted()
        logger.warning("Interrupted: finishing the file being written, then stopping")

    def _raise_interrupted(self) -> None:
        (how, node), self._interrupted = self._interrupted, None
        raise RunInterrupted(
            f"Run interrupted ({how}) during node '{node}'. Files written "
            "before the interruption are complete, earlier versions are "
            "untouched, and this run's MLflow runs are marked KILLED. Run "
            "`kedro run` again to start over."
        )


@contextlib.contextmanager
def _exclusive(store: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the store file (one process at a time).

    ``flock`` locks are separate from SQLite's own (``fcntl``) locks, so this
    only orders the runs' set-up; it does not block MLflow's reads and writes.
    """
    with store.open("ab") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def pin_load_version(dataset: Any) -> None:
    """Make a versioned dataset load the version it has just saved.

    Kedro loads "the latest version", which is another run's when two runs
    write the same dataset at once; a run must read back its own outputs.
    """
    if isinstance(dataset, AbstractVersionedDataset):
        version = dataset.resolve_save_version()
        if version is not None:
            dataset._version = Version(version, version)
            dataset._clear_version_cache()


def _parameter_keys(pipeline: Pipeline, registered: Any) -> dict[str, set[str]]:
    """Per problem run by ``pipeline``: the keys any registered node reads."""
    read: dict[str, set[str]] = defaultdict(set)
    whole: set[str] = set()
    for candidate in registered:
        for name in candidate.inputs():
            if not name.startswith("params:"):
                continue
            problem, _, rest = name[len("params:") :].partition(".")
            if rest:
                read[problem].add(rest.split(".")[0])
            else:
                whole.add(problem)
    running = {
        name[len("params:") :].partition(".")[0]
        for name in pipeline.inputs()
        if name.startswith("params:")
    }
    return {p: keys for p, keys in read.items() if p in running and p not in whole}


def _output_files(pipeline: Pipeline, catalog: Any) -> list[Path]:
    """The local files the pipeline's outputs are written to."""
    files = []
    for name in sorted(pipeline.all_outputs()):
        dataset = catalog.get(name)
        filepath = getattr(dataset, "_filepath", None)
        if filepath is None or getattr(dataset, "_protocol", "file") != "file":
            continue
        files.append(Path(str(filepath)))
    return files


def _params(data: dict[str, Any]) -> list[Param]:
    return [
        Param(str(key), str(value)[:MAX_PARAM_VAL_LENGTH])
        for key, value in data.items()
    ]


def _metrics(history: pd.DataFrame) -> list[Metric]:
    timestamp = int(time.time() * 1000)
    return [
        Metric(str(column), float(value), timestamp, int(step))
        for column in history.columns
        if column != "epoch"
        for step, value in zip(history["epoch"], history[column], strict=True)
    ]
