"""What a Dask worker runs for one point: ``kedro run`` in a fresh process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TAIL = 40  # lines of a failed point's output kept as its error


def run_point(
    project: str,
    pipeline: str,
    params: str,
    env: str | None,
    run_id: str,
    point_id: str,
    to_outputs: list[str],
) -> dict[str, Any]:
    """``kedro run --pipelines=<pipeline> --params=<params>`` in ``project``, its
    MLflow run resumed from ``run_id``; returns how it ended (never raises for
    a failing run, so one point cannot stop the others)."""
    kedro = Path(sys.executable).with_name("kedro")
    command = [str(kedro), "run", "--pipelines", pipeline]
    command += ["--to-outputs", ",".join(to_outputs)] if to_outputs else []
    command += ["--params", params] if params else []
    command += ["--env", env] if env else []
    environment = os.environ | {
        "MLFLOW_RUN_ID": run_id,  # kedro-mlflow resumes the point's run
        "PYTORCH_INTRO_SWEEP_POINT": point_id,
        "DO_NOT_TRACK": "true",
        "KEDRO_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
    }
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).splitlines()
    return {
        "returncode": done.returncode,
        "seconds": time.perf_counter() - started,
        "error": None if done.returncode == 0 else _error(done.returncode, output),
        "host": os.uname().nodename,
    }


def _error(returncode: int, output: list[str]) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name} (signal {-returncode})"
    lines = [line.strip() for line in output if line.strip()]
    # Kedro's last line names the exception: keep it first, then the tail
    last = next((line for line in reversed(lines) if "Error" in line), "")
    tail = "\n".join(lines[-TAIL:])
    return (
        f"exit {returncode}: {last}\n{tail}" if last else f"exit {returncode}\n{tail}"
    )
