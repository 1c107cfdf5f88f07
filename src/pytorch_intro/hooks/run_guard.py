"""What keeps a failing or stopped run from costing earlier results."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
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

from pytorch_intro import preflight, workers
from pytorch_intro.internals import local_filepath, pin_load_version, runner_name
from pytorch_intro.preflight import PreflightError

logger = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
#: ``VariantRunner``: the SequentialRunner in another node order (``kedro run``'s default)
SUPPORTED_RUNNERS = ("SequentialRunner", "VariantRunner")


class RunInterrupted(Exception):  # noqa: N818 - reads as what happened
    """The user stopped the run (Ctrl-C / SIGINT, or SIGTERM).

    Not a ``KeyboardInterrupt``, so that Kedro's ``on_pipeline_error`` hooks run
    and close the MLflow runs (as KILLED).
    """


def interruption(error: BaseException | None) -> RunInterrupted | None:
    """The :class:`RunInterrupted` behind ``error``, if any: one that lands
    while a dataset loads reaches the hooks inside Kedro's ``DatasetError``."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, RunInterrupted):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def check_runner(name: str | None) -> None:
    """Refuse a runner the hooks cannot work under (``None``: Kedro's default)."""
    if name is not None and name not in SUPPORTED_RUNNERS:
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

    A variant's namespace lacks the data steps it trains on; the variant's
    pipeline of the same name is what is meant.
    """
    given, names = list(namespaces or ()), set(pipelines)
    variants = [name for name in given if "." in name and name in names]
    if variants:
        one = len(variants) == 1
        raise PreflightError(
            f"kedro run --namespaces={','.join(given)} runs the variant"
            f"{'' if one else 's'} {', '.join(variants)} without "
            f"{'its' if one else 'their'} data steps; run `kedro run "
            f"--pipelines={','.join(variants)}` instead (the variant with its data "
            "steps and the report)."
        )


class RunGuardHook:
    """Refuses a run that cannot finish, stops it cleanly on Ctrl-C/SIGTERM
    (never in the middle of writing a file), and makes each versioned output
    load the version this run wrote, whatever a concurrent run wrote since."""

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
        store = preflight.sqlite_store_path(uri, Path.cwd())
        if store is None:
            return
        preflight.check_sqlite_store(store, preflight.STORE_LOCK_TIMEOUT)
        experiment = (config.get("tracking") or {}).get("experiment") or {}
        # Create the tables (and the experiment) one run at a time: two runs
        # starting together on a new store would both try to (and one fail).
        with _exclusive(store):
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
        preflight.check_parameter_blocks(
            catalog.load("parameters"),
            _parameter_keys(pipeline, registered_pipelines.values()),
        )
        outputs = sorted(pipeline.all_outputs())
        files = (local_filepath(catalog.get(name)) for name in outputs)
        preflight.check_writable(path for path in files if path is not None)
        self._catalog = catalog
        self._install_interrupt_handler()

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._node = node.name

    @hook_impl
    def after_node_run(self) -> None:
        self._node = ""

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
        """Give the stop signals their previous handlers back, and logging its own."""
        self._restore_signal_handlers()
        logging.Handler.handleError = _HANDLE_ERROR

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    on_pipeline_error = after_pipeline_run

    def _install_interrupt_handler(self) -> None:
        self._saving, self._interrupted = 0, None
        if threading.current_thread() is threading.main_thread():  # signals go there
            self._previous_handlers = {
                signum: signal.signal(signum, self._on_interrupt)
                for signum in STOP_SIGNALS
            }
            # A stop that lands while a log line is written must stop the run,
            # not be reported as a logging error and swallowed.
            logging.Handler.handleError = _reraise_interrupted

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        self._restore_signal_handlers()  # a second Ctrl-C: Python's default
        # the main thread's node, and those running in worker processes
        nodes = [*([self._node] if self._node else []), *workers.running()]
        where = ", ".join(f"'{name}'" for name in nodes or ["start-up"])
        self._interrupted = (
            STOP_SIGNALS[signum],
            f"node{'s' if len(nodes) > 1 else ''} {where}",
        )
        if self._saving == 0:
            self._raise_interrupted()
        logger.warning("Interrupted: finishing the file being written, then stopping")

    def _raise_interrupted(self) -> None:
        (how, node), self._interrupted = self._interrupted, None
        raise RunInterrupted(
            f"Run interrupted ({how}) during {node}. Files written "
            "before the interruption are complete, earlier versions are "
            "untouched, and this run's MLflow runs are marked KILLED. Run "
            "`kedro run` again to start over."
        )


_HANDLE_ERROR = logging.Handler.handleError


def _reraise_interrupted(handler: logging.Handler, record: logging.LogRecord) -> None:
    """``logging.Handler.handleError``, except for :class:`RunInterrupted`."""
    if isinstance(sys.exc_info()[1], RunInterrupted):
        raise  # noqa: PLE0704 - handleError runs inside the handler's except block
    _HANDLE_ERROR(handler, record)


@contextlib.contextmanager
def _exclusive(store: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the store file until the block ends.

    Separate from SQLite's own locks: it orders the runs' set-up only.
    """
    with store.open("ab") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _parameter_keys(pipeline: Pipeline, registered: Any) -> dict[str, set[str]]:
    """Per problem run by ``pipeline``: the keys any registered node reads."""
    prefix = "params:"
    read: dict[str, set[str]] = defaultdict(set)
    whole: set[str] = set()
    params = [n for p in registered for n in p.inputs() if n.startswith(prefix)]
    for problem, _, rest in (name[len(prefix) :].partition(".") for name in params):
        if rest:
            read[problem].add(rest.split(".")[0])
        else:
            whole.add(problem)
    running = {
        name[len(prefix) :].partition(".")[0]
        for name in pipeline.inputs()
        if name.startswith(prefix)
    }
    return {p: keys for p, keys in read.items() if p in running and p not in whole}
