"""The project's runner: nodes tagged for workers run in other processes, the
rest (hooks, loading, saving) in the main thread, with the same results."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import psutil
import pytest
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from pytorch_intro import workers
from pytorch_intro.internals import create_hook_manager
from pytorch_intro.runner import VariantRunner
from pytorch_intro.workers import WORKER_TAG

logger = logging.getLogger("pytorch_intro.tests.runner")
TIMEOUT = 300  # s: generous; each wait below ends on an event


def where(value: int) -> tuple[int, int]:
    """(``value``, the id of the process that ran this)."""
    logger.info("computing %d in process %d", value, os.getpid())
    return value, os.getpid()


def twice(pair: tuple[int, int]) -> tuple[int, int]:
    return 2 * pair[0], pair[1]


def fail(value: int) -> int:
    raise ValueError(f"no good: {value}")


def block(marker: str) -> int:
    """Say it runs (a file), then run until stopped."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(3 * TIMEOUT)
    return 0


def chatter(marker: str) -> int:
    """Say it runs (a file), then log until stopped."""
    Path(marker).write_text(str(os.getpid()))
    for count in range(10**9):
        logger.warning("still here: %d", count)
    return 0


def wait_for(marker: str) -> int:
    """Fail once ``block`` runs in its worker."""
    deadline = time.monotonic() + TIMEOUT
    while not Path(marker).exists():
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.05)
    raise RuntimeError("stop the run")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self.calls.append(("before", node.name))

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        self.calls.append(("after", node.name))

    @hook_impl
    def on_node_error(self, error: Exception, node: Node) -> None:
        self.calls.append(("error", f"{node.name}: {error}"))


def _run(pipeline: Pipeline, **datasets) -> tuple[DataCatalog, Recorder]:
    catalog = DataCatalog({k: MemoryDataset(v) for k, v in datasets.items()})
    hooks, recorder = create_hook_manager(), Recorder()
    hooks.register(recorder)
    VariantRunner(max_workers=2).run(pipeline, catalog, hooks)
    return catalog, recorder


def test_tagged_nodes_run_in_workers_and_their_hooks_in_the_main_thread(caplog):
    pipeline = Pipeline(
        [
            Node(where, "a", "pa", name="a.where", tags=[WORKER_TAG]),
            Node(where, "b", "pb", name="b.where", tags=[WORKER_TAG]),
            Node(twice, "pa", "ra", name="a.twice"),
            Node(twice, "pb", "rb", name="b.twice"),
        ]
    )
    with caplog.at_level(logging.INFO, logger="pytorch_intro"):
        catalog, recorder = _run(pipeline, a=1, b=2)
    (a, a_pid), (b, b_pid) = catalog.load("ra"), catalog.load("rb")
    assert (a, b) == (2, 4)
    assert os.getpid() not in {a_pid, b_pid}
    # each node's hooks, in order, once (called here, in the main process)
    for name in ("a.where", "b.where", "a.twice", "b.twice"):
        assert [c for c in recorder.calls if c[1] == name] == [
            ("before", name),
            ("after", name),
        ]
    # the workers' log lines are the main process's records
    lines = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert sorted(lines) == [
        f"computing 1 in process {a_pid}",
        f"computing 2 in process {b_pid}",
    ]
    assert workers.running() == []


def test_an_error_in_a_worker_fails_its_node_with_that_error():
    pipeline = Pipeline([Node(fail, "a", "b", name="a.fail", tags=[WORKER_TAG])])
    with pytest.raises(ValueError, match="no good: 7"):
        _run(pipeline, a=7)


def test_a_failing_run_stops_its_workers(tmp_path):
    marker = str(tmp_path / "started")
    pipeline = Pipeline(
        [
            Node(block, "marker", "x", name="a.block", tags=[WORKER_TAG]),
            Node(where, "one", "z", name="c.where", tags=[WORKER_TAG]),
            Node(wait_for, "marker", "y", name="b.wait_for"),
        ]
    )
    with pytest.raises(RuntimeError, match="stop the run"):
        _run(pipeline, marker=marker, one=1)
    worker = psutil.Process(int(Path(marker).read_text()))
    gone, _ = psutil.wait_procs([worker], timeout=TIMEOUT)
    assert gone == [worker]


def test_a_failing_run_ends_though_a_worker_was_stopped_mid_record(tmp_path):
    """A worker terminated while it sends a log record can leave the records'
    queue locked or cut: stopping the run must not wait on it."""
    marker = str(tmp_path / "started")
    pipeline = Pipeline(
        [
            Node(chatter, "marker", "x", name="a.chatter", tags=[WORKER_TAG]),
            Node(where, "one", "z", name="c.where", tags=[WORKER_TAG]),
            Node(wait_for, "marker", "y", name="b.wait_for"),
        ]
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _run(pipeline, marker=marker, one=1)
        except BaseException as error:  # noqa: BLE001 - the run's outcome
            errors.append(error)

    for _ in range(3):  # each time the worker is stopped somewhere in a record
        Path(marker).unlink(missing_ok=True)
        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        runner.join(TIMEOUT)
        assert not runner.is_alive(), "the run did not end"
    assert [str(error) for error in errors] == ["stop the run"] * 3


@pytest.mark.parametrize(("tagged", "max_workers"), [(1, None), (2, 1)])
def test_below_two_tagged_nodes_or_workers_it_runs_sequentially(tagged, max_workers):
    pipeline = Pipeline(
        [
            Node(where, "a", f"p{k}", name=f"n{k}.where", tags=[WORKER_TAG])
            for k in range(tagged)
        ]
    )
    catalog = DataCatalog({"a": MemoryDataset(1)})
    runner = VariantRunner(max_workers=max_workers)
    runner.run(pipeline, catalog, create_hook_manager())
    assert {catalog.load(f"p{k}") for k in range(tagged)} == {(1, os.getpid())}
