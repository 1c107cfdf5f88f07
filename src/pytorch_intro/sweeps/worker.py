"""What a Dask worker runs for one point: ``kedro run`` in a fresh process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytorch_intro.sweeps import POINT_ENV
from pytorch_intro.sweeps.spec import Point

TAIL = 40  # lines of a failed point's output kept as its error


def run_point(project: str, point: Point, run_id: str) -> dict[str, Any]:
    """The point's ``kedro run`` in ``project``, its MLflow run resumed from
    ``run_id``; how it ended (never raises, so one point cannot stop the others)."""
    kedro = str(Path(sys.executable).with_name("kedro"))
    # --to-outputs: the variant, not the report
    outputs = f"{point.pipeline}.report_entry,{point.pipeline}.servable"
    command = [kedro, "run", "--pipelines", point.pipeline, "--to-outputs", outputs]
    command += ["--params", point.params_option()] if point.params else []
    command += ["--env", point.env] if point.env else []
    environment = os.environ | {
        "MLFLOW_RUN_ID": run_id,  # kedro-mlflow resumes the point's run
        POINT_ENV: point.id,
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
    code, error = done.returncode, None
    if code < 0:
        error = f"killed by {signal.Signals(-code).name} (signal {-code})"
    elif code > 0:
        output = (done.stdout + done.stderr).splitlines()
        lines = [line.strip() for line in output if line.strip()]
        # Kedro's last line naming the exception first, then the tail
        last = next((line for line in reversed(lines) if "Error" in line), "")
        tail = "\n".join(lines[-TAIL:])
        error = f"exit {code}" + (f": {last}" if last else "") + f"\n{tail}"
    return {
        "returncode": code,
        "seconds": time.perf_counter() - started,
        "error": error,
    }
