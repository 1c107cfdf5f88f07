"""Runs left RUNNING by a process that is gone (``kill -9``, a crash, a reboot).

No handler sees SIGKILL, so every run records the host and process id that write
it; the next run marks KILLED the experiment's RUNNING runs whose process on this
host is gone (or is a newer one that reused the id). Runs of live processes and
of other hosts are left alone.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from mlflow.tracking import MlflowClient

from pytorch_intro.sweeps import HOST_TAG, PID_TAG

logger = logging.getLogger(__name__)


def process_alive(pid: int, since_ms: int | None = None) -> bool:
    """Whether process ``pid`` exists on this host (and, where there is /proc,
    started no later than ``since_ms``, epoch ms: else the id was reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    if since_ms is None:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, IndexError, ValueError):
        return True
    # field 22 of stat: the start time, in clock ticks since boot
    started = (boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")) * 1000
    return started <= since_ms + 2000


def close_orphan_runs(client: MlflowClient, experiment_id: str, keep: str) -> list[str]:
    """Mark KILLED the experiment's RUNNING runs whose process here is gone
    (never ``keep``, the current run); returns the runs it closed."""
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
            client.set_terminated(run.info.run_id, "KILLED")
            closed.append(f"{run.info.run_name} ({run.info.run_id}, pid {pid})")
    if closed:
        logger.warning(
            "Marked KILLED %d MLflow run(s) whose process is gone: %s",
            len(closed),
            "; ".join(closed),
        )
    return closed
