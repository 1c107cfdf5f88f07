"""Worker processes that run a node's function while the main process goes on.

Used by :class:`pytorch_intro.runner.VariantRunner` for the nodes that train.
The processes are forked from a server that has imported torch and the nodes'
modules once (``forkserver``, started by :func:`warm_up` while Kedro sets up
the run), so a worker starts in milliseconds and shares no thread or lock with
the main process. A worker only computes: it loads and saves nothing, calls no
hook and no MLflow; its log records are handled by the main process's logging
(the console, Kedro's handlers). It ignores Ctrl-C, which reaches every
process of the terminal: the main process stops the run, then the workers; and
it ends by itself when the main process is gone, even killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import logging.handlers
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import update_wrapper
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kedro.pipeline.node import Node

from pytorch_intro.internals import filter_upstream_warnings

#: Nodes with this tag run their function in a worker process.
WORKER_TAG = "worker"

#: What the server imports once, for every worker it forks (``__main__``: the
#: script, e.g. ``kedro``, which each worker would import otherwise; Kedro's
#: project module configures logging when imported: before the worker does;
#: ``torch._dynamo``: ``torch.optim.Adam`` imports it, about 1 s per worker).
PRELOAD = [
    "__main__",
    "kedro.framework.project",
    "torch._dynamo",
    "pytorch_intro.train_eval.nodes",
    "pytorch_intro.workers",
]
#: Kedro's logging while the server imports it: quiet (no "Using ..." line).
SERVER_LOGGING = Path(__file__).with_name("worker_logging.yml")


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    previous = os.environ.get("KEDRO_LOGGING_CONFIG")
    os.environ["KEDRO_LOGGING_CONFIG"] = str(SERVER_LOGGING)
    try:  # a no-op once the server runs
        multiprocessing.forkserver.ensure_running()
    finally:
        if previous is None:
            del os.environ["KEDRO_LOGGING_CONFIG"]
        else:
            os.environ["KEDRO_LOGGING_CONFIG"] = previous
    return context


def count(nodes: Iterable[Node]) -> int:
    """How many workers ``nodes`` can use: one per node tagged for them, at
    most one per core this process may use; below 2, no worker pays."""
    tagged = sum(WORKER_TAG in node.tags for node in nodes)
    return min(tagged, len(os.sched_getaffinity(0)))


def warm_up() -> None:
    """Start the server now: its imports overlap the main process's set-up."""
    _context()


class Pool:
    """``count`` worker processes, for ``with`` blocks: on leaving the block
    normally it waits for them; on an error or a stop it terminates them."""

    def __init__(self, count: int) -> None:
        context = _context()
        self._records = context.Queue()
        # a pipe nothing is sent through: its end of file tells the workers
        # that this process is gone
        self._main_end, self._alive = context.Pipe(duplex=False)
        self._before = set(multiprocessing.active_children())
        self._executor = ProcessPoolExecutor(
            count,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self._records, _level(), self._main_end),
        )
        self._done = threading.Event()
        self._forwarder = threading.Thread(
            target=_forward,
            args=(self._records, self._done),
            name="worker-logs",
            daemon=True,
        )
        self._forwarder.start()

    def submit(self, node: Node, inputs: dict[str, Any]) -> Future:
        """Run ``node``'s function on ``inputs`` (dataset name -> data) in a
        worker; the future's result is what the function returned."""
        return self._executor.submit(_call, node, inputs)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, kind: type | None, *_: Any) -> None:
        stopped = kind is not None
        if stopped:  # nothing they compute is wanted any more
            for process in set(multiprocessing.active_children()) - self._before:
                process.terminate()
        self._executor.shutdown(wait=not stopped, cancel_futures=True)
        self._alive.close()
        self._main_end.close()
        if not stopped:  # the workers have ended: their last records are sent
            self._records.put(None)
            self._forwarder.join()
        # else a worker may have died holding the queue's lock or halfway
        # through a record: nothing more comes through it, and its forwarder
        # (a daemon thread) is left waiting, as a put here would be forever
        with _LOCK:
            self._done.set()
            _RUNNING.clear()


def running() -> list[str]:
    """The nodes the workers are running now (as they reported)."""
    with _LOCK:
        return sorted(_RUNNING)


def result_node(node: Node, result: Future) -> Node:
    """``node`` with the worker's ``result`` (or its error) as its function's."""

    def returned(*_args: Any, **_kwargs: Any) -> Any:
        return result.result()

    done = copy.copy(node)
    done.func = update_wrapper(returned, node.func)
    return done


_LOCK = threading.Lock()
_RUNNING: set[str] = set()  # in the main process: what the workers said
_EVENTS: Any = None  # in a worker: the queue to the main process


def _call(node: Node, inputs: dict[str, Any]) -> Any:
    """What ``node``'s function returns for ``inputs``, mapped by Kedro."""
    func, returned = node.func, []

    def call(*args: Any, **kwargs: Any) -> Any:
        returned.append(func(*args, **kwargs))
        return returned[0]

    node.func = update_wrapper(call, func)  # this process's own copy of the node
    _EVENTS.put(("started", node.name))
    try:
        node.run(inputs)
    finally:
        _EVENTS.put(("ended", node.name))
    return returned[0]


def _level() -> int:
    """The lowest level the main process logs at, of the root and the project."""
    package = logging.getLogger(__name__.partition(".")[0])
    return min(logging.getLogger().getEffectiveLevel(), package.getEffectiveLevel())


def _start_worker(records: Any, level: int, main: Connection) -> None:
    global _EVENTS  # noqa: PLW0603 - this process's one queue
    _EVENTS = records
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides
    filter_upstream_warnings()
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    logging.getLogger("kedro").setLevel(logging.WARNING)  # the main process's lines
    threading.Thread(target=_end_with, args=(main,), daemon=True).start()


def _end_with(main: Connection) -> None:
    """End this worker as soon as the main process is gone (even killed with
    SIGKILL): ``main`` then reaches its end of file."""
    with contextlib.suppress(EOFError, OSError):
        main.recv()
    os._exit(1)


def _forward(records: Any, done: threading.Event) -> None:
    """Hand the workers' log records to the main process's loggers, and note
    which nodes they start and end (until the pool is ``done``)."""
    while (record := records.get()) is not None:
        if isinstance(record, tuple):
            event, name = record
            with _LOCK:
                if not done.is_set():
                    (_RUNNING.add if event == "started" else _RUNNING.discard)(name)
            continue
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
