"""What keeps a failing or stopped run from costing earlier results.

Checks before a run (the runner, the MLflow store, parameter blocks, output
folders), Ctrl-C/SIGTERM handling, the MLflow experiment's set-up, and pinning
each versioned output to the version this run wrote.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: runs are not serialised while setting up the store
    fcntl = None

from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as registered_pipelines
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from mlflow.tracking import MlflowClient

from pytorch_intro import preflight
from pytorch_intro.internals import local_filepath, pin_load_version, runner_name
from pytorch_intro.preflight import (
    PreflightError,
    check_parameter_blocks,
    check_sqlite_store,
    check_writable,
    sqlite_store_path,
)

logger = logging.getLogger(__name__)

#: The signals that stop a run cleanly, and how the message names them.
STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}

#: The runners the project's hooks work under (see ``pytorch_intro.hooks``).
#: ``VariantRunner`` is the SequentialRunner in another node order (``kedro run``'s default).
SUPPORTED_RUNNERS = ("SequentialRunner", "VariantRunner")


class RunInterrupted(Exception):  # noqa: N818 - reads as what happened
    """The user stopped the run (Ctrl-C / SIGINT, or SIGTERM).

    An ``Exception`` rather than ``KeyboardInterrupt``, so Kedro's error path
    runs: ``on_pipeline_error`` hooks close the MLflow runs (as KILLED).
    """


def check_runner(name: str | None) -> None:
    """Refuse a runner the hooks cannot work under (``None``: Kedro's default).

    Only the SequentialRunner is supported: the hooks keep per-run state (open
    child runs, nodes left per variant, the file being written) that assumes
    nodes run one at a time in the main thread, where signals arrive.
    """
    if name is None or name in SUPPORTED_RUNNERS:
        return
    raise PreflightError(
        f"Runner {name} is not supported: this project's hooks (one MLflow child "
        "run per variant, stopping cleanly on Ctrl-C) need the nodes to run one "
        f"at a time in the main thread. Run with --runner={SUPPORTED_RUNNERS[0]}, "
        "the default (or leave out --runner)."
    )


def check_namespaces(
    namespaces: Iterable[str] | None, pipelines: Iterable[str]
) -> None:
    """Refuse ``--namespaces`` naming a model variant (``digits.cnn``).

    A variant's namespace holds its own nodes only, not the data steps it
    trains on (``digits``), and with them it repeats nodes; the variant's
    pipeline of the same name (in ``pipelines``) is what is meant.
    """
    given, names = list(namespaces or ()), set(pipelines)
    variants = [name for name in given if "." in name and name in names]
    if not variants:
        return
    one = len(variants) == 1
    raise PreflightError(
        f"kedro run --namespaces={','.join(given)} runs the variant"
        f"{'' if one else 's'} {', '.join(variants)} without "
        f"{'its' if one else 'their'} data steps; run `kedro run "
        f"--pipelines={','.join(variants)}` instead (the variant with its data "
        "steps and the report)."
    )


class RunGuardHook:
    """What keeps a failing or stopped run from costing earlier results.

    Before anything runs: the runner must be supported, the MLflow store must
    be writable (not locked, not read-only), every parameter block must be read
    by some node, and every output folder must be writable; otherwise the run
    stops with one message naming the runner, store, key or folder. During the
    run: Ctrl-C (or SIGTERM) becomes ``RunInterrupted`` (so the MLflow runs are
    closed as KILLED), never in the middle of writing a file; and a versioned
    output is read back as the version this run wrote, even if a concurrent
    run wrote a newer one since.
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
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        # Before kedro-mlflow opens the run: a refused run leaves no trace.
        check_namespaces(run_params.get("namespaces"), registered_pipelines.keys())
        check_runner(runner_name(run_params))
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
    files = (
        local_filepath(catalog.get(name)) for name in sorted(pipeline.all_outputs())
    )
    return [path for path in files if path is not None]
