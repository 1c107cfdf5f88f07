"""A sweep in MLflow: one sweep run, every point a child run of it.

The driver creates each point's run (SCHEDULED, tagged with the sweep, the
point id and a content hash, its swept values as params); the point's
``kedro run`` resumes it (``MLFLOW_RUN_ID``) and records the variant there
(metrics, figures, model). A point whose process fails or is killed is closed
here as FAILED or KILLED with its error. Points FINISHED by an earlier run of
the same sweep with the same content hash are found, and skipped.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from mlflow.entities import RunStatus, RunTag
from mlflow.tracking import MlflowClient

from pytorch_intro.hooks.orphans import process_tags
from pytorch_intro.internals import MAX_PARAM_LENGTH, mlflow_params
from pytorch_intro.sweeps.spec import Point

SWEEP_TAG = "pytorch_intro.sweep"
POINT_TAG = "pytorch_intro.point"
HASH_TAG = "pytorch_intro.point_hash"
ERROR_TAG = "pytorch_intro.error"


class SweepTracker:
    """The MLflow runs of one sweep, in ``experiment_id``."""

    def __init__(self, client: MlflowClient, experiment_id: str, name: str) -> None:
        self.client, self.experiment_id, self.name = client, experiment_id, name
        self.run_id: str | None = None

    def start(self, points: list[Point], params: dict[str, Any]) -> str:
        """The sweep's own run (named after it and its start time)."""
        started = datetime.now()
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"sweep {self.name} {started:%Y-%m-%d %H:%M:%S}",
            tags={
                SWEEP_TAG: self.name,
                "pytorch_intro.points": str(len(points)),
            }
            | process_tags(),
        )
        self.run_id = run.info.run_id
        self.client.log_batch(self.run_id, params=mlflow_params(params))
        return self.run_id

    def finished(self, point: Point) -> Any | None:
        """An earlier FINISHED run of this point (same sweep, same hash), if any."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`{SWEEP_TAG}` = '{self.name}' and "
                f"tags.`{HASH_TAG}` = '{point.digest}' and "
                "attributes.status = 'FINISHED'"
            ),
            order_by=["attributes.end_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    def create_point(self, point: Point) -> str:
        """The point's run, SCHEDULED until its ``kedro run`` resumes it."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"{point.id} {point.pipeline}",
            tags={
                "mlflow.parentRunId": self.run_id,
                SWEEP_TAG: self.name,
                POINT_TAG: point.id,
                HASH_TAG: point.digest,
                "pipeline": point.pipeline.partition(".")[0],
                "variant": point.pipeline.partition(".")[2],
            },
        )
        self.client.log_batch(run.info.run_id, params=mlflow_params(point.swept))
        self.client.update_run(run.info.run_id, status="SCHEDULED")
        return run.info.run_id

    def close_point(self, run_id: str, outcome: dict[str, Any]) -> str:
        """Record how the point's process ended; returns the run's final status."""
        run = self.client.get_run(run_id)
        if outcome["error"] is None and run.info.status == "FINISHED":
            return "FINISHED"
        killed = outcome["returncode"] < 0
        status = RunStatus.to_string(RunStatus.KILLED if killed else RunStatus.FAILED)
        error = outcome["error"] or f"the run ended {run.info.status}"
        self.client.set_tag(run_id, ERROR_TAG, error[-MAX_PARAM_LENGTH:])
        self.client.set_terminated(run_id, status)
        return status

    def result(self, run_id: str) -> dict[str, Any]:
        """A point's final numbers, as its run recorded them."""
        run = self.client.get_run(run_id)
        metrics, params = run.data.metrics, run.data.params
        return {
            "status": run.info.status,
            "val_accuracy": metrics.get("val_accuracy", float("nan")),
            "val_loss": metrics.get("val_loss", float("nan")),
            "n_params": int(params["n_params"]) if "n_params" in params else None,
            "run_id": run_id,
            "error": run.data.tags.get(ERROR_TAG, "").splitlines()[0]
            if run.data.tags.get(ERROR_TAG)
            else "",
        }

    def finish(self, artifacts: list[Path], failed: int, points: int) -> None:
        """Log the summary files and close the sweep's run."""
        for path in artifacts:
            self.client.log_artifact(self.run_id, str(path))
        self.client.log_batch(
            self.run_id,
            tags=[
                RunTag("pytorch_intro.failed", str(failed)),
                RunTag("pytorch_intro.points", str(points)),
            ],
        )
        status = RunStatus.FAILED if failed else RunStatus.FINISHED
        self.client.set_terminated(
            self.run_id, RunStatus.to_string(status), end_time=int(time.time() * 1000)
        )
