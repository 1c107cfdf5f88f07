"""Runs left RUNNING by a process that is gone (``kill -9``, a crash, a reboot).

No handler sees SIGKILL, so every run records the host and process id that
write it. At the start of the next run, runs of the experiment still RUNNING
whose process on this host no longer exists (or is a newer process that reused
the id) are marked KILLED. Runs of live processes (a concurrent ``kedro run``)
and runs recorded on other hosts are left alone.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

HOST_TAG = "pytorch_intro.host"
PID_TAG = "pytorch_intro.pid"
KILLED = RunStatus.to_string(RunStatus.KILLED)


def process_tags() -> dict[str, str]:
    """The tags naming the process that records a run (how orphans are found)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def process_alive(pid: int, since_ms: int | None = None) -> bool:
    """Whether process ``pid`` exists on this host (and, on Linux, started no
    later than ``since_ms``, epoch milliseconds: else the id was reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    started = _start_time_ms(pid)
    return not (
        since_ms is not None and started is not None and started > since_ms + 2000
    )


def _start_time_ms(pid: int) -> int | None:
    """When ``pid`` started (epoch ms), from /proc; None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    ticks = int(fields[19])  # field 22 of stat: start time in clock ticks
    return int((boot + ticks / os.sysconf("SC_CLK_TCK")) * 1000)


def close_orphan_runs(client: MlflowClient, experiment_id: str, keep: str) -> list[str]:
    """Mark KILLED the experiment's RUNNING runs whose process here is gone.

    Returns the ids of the runs it closed (``keep``, the current run, never).
    """
    host = socket.gethostname()
    running = client.search_runs(
        [experiment_id],
        filter_string=(
            f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'"
        ),
        max_results=1000,
    )
    closed = []
    for run in running:
        pid = run.data.tags.get(PID_TAG, "")
        if run.info.run_id == keep or not pid.isdigit():
            continue
        if not process_alive(int(pid), run.info.start_time):
            client.set_terminated(run.info.run_id, KILLED)
            closed.append(f"{run.info.run_name} ({run.info.run_id}, pid {pid})")
    if closed:
        logger.warning(
            "Marked KILLED %d MLflow run(s) whose process is gone: %s",
            len(closed),
            "; ".join(closed),
        )
    return closed
