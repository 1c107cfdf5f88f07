"""A sweep in MLflow: one sweep run, every point a child run of it.

The driver creates each point's run (SCHEDULED, tagged with the sweep, the point
and a content hash); the point's ``kedro run`` resumes it (``MLFLOW_RUN_ID``).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Run, RunTag
from mlflow.tracking import MlflowClient

from pytorch_intro.internals import MAX_PARAM_LENGTH, mlflow_params
from pytorch_intro.sweeps import process_tags
from pytorch_intro.sweeps.spec import Point

SWEEP_TAG = "pytorch_intro.sweep"
POINT_TAG = "pytorch_intro.point"
HASH_TAG = "pytorch_intro.point_hash"
ERROR_TAG = "pytorch_intro.error"
#: The statuses of a run that has not ended.
OPEN_STATUSES = ("RUNNING", "SCHEDULED")
#: The most runs one MLflow search returns (mlflow 3.17.2's SQL store: 50,000).
SEARCH_LIMIT = 50_000
#: The last epoch a pruned point trained.
PRUNED_TAG = "pytorch_intro.pruned_epoch"
#: The folder of the servable model a point saved (the best one's is logged).
SERVABLE_TAG = "pytorch_intro.servable"
#: Summary columns that are no parameter of the best point.
SUMMARY_ONLY = {"status", "val_accuracy", "val_loss", "seconds", "error"}


class SweepTracker:
    """The MLflow runs of one sweep, in ``experiment_id``."""

    def __init__(self, client: MlflowClient, experiment_id: str, name: str) -> None:
        self.client, self.experiment_id, self.name = client, experiment_id, name
        self.run_id: str | None = None
        self._open: set[str] = set()  # points created and not closed

    def start(self, points: list[Point], params: dict[str, Any]) -> None:
        """The sweep's own run (named after it and its start time)."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"sweep {self.name} {datetime.now():%Y-%m-%d %H:%M:%S}",
            tags={SWEEP_TAG: self.name, "pytorch_intro.points": str(len(points))}
            | process_tags(),
        )
        self.run_id = run.info.run_id
        self.client.log_batch(self.run_id, params=mlflow_params(params))

    def finished(self, point: Point) -> Run | None:
        """An earlier FINISHED run of this point (same sweep, same hash), if any."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{SWEEP_TAG}` = '{self.name}' and "
            f"tags.`{HASH_TAG}` = '{point.digest}' and attributes.status = 'FINISHED'",
            order_by=["attributes.end_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    def create_point(self, point: Point) -> str:
        """The point's run, SCHEDULED until its ``kedro run`` resumes it."""
        problem, _, variant = point.pipeline.partition(".")
        run_id = self.client.create_run(
            self.experiment_id,
            run_name=f"{point.id} {point.pipeline}",
            tags={
                "mlflow.parentRunId": self.run_id,
                SWEEP_TAG: self.name,
                POINT_TAG: point.id,
                HASH_TAG: point.digest,
                "pipeline": problem,
                "variant": variant,
            },
        ).info.run_id
        self.client.log_batch(run_id, params=mlflow_params(point.swept))
        self.client.update_run(run_id, status="SCHEDULED")
        self._open.add(run_id)
        return run_id

    def close_point(self, run_id: str, outcome: dict[str, Any]) -> str:
        """Record how the point's process ended; returns the run's final status."""
        self._open.discard(run_id)
        status = self.client.get_run(run_id).info.status
        if outcome["error"] is None and status == "FINISHED":
            if outcome["servable"] is not None:
                self.client.set_tag(run_id, SERVABLE_TAG, str(outcome["servable"]))
            return status
        error = outcome["error"] or f"the run ended {status}"
        self.client.set_tag(run_id, ERROR_TAG, error[-MAX_PARAM_LENGTH:])
        status = "KILLED" if outcome["returncode"] < 0 else "FAILED"
        self.client.set_terminated(run_id, status)
        return status

    def interrupted(self) -> int:
        """The sweep stopped (Ctrl-C) and no worker runs on: its open points'
        runs and its own KILLED; how many points were open.

        Open: those it created and has not closed, and any other of its
        points' runs still RUNNING or SCHEDULED (one whose creation the stop
        interrupted is in the store, not yet in ``_open``).
        """
        if self.run_id is None:
            return 0
        children = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{self.run_id}'",
            max_results=SEARCH_LIMIT,
        )
        still = {r.info.run_id for r in children if r.info.status in OPEN_STATUSES}
        for run_id in self._open | still:
            self.client.set_tag(run_id, ERROR_TAG, "the sweep was interrupted")
            self.client.set_terminated(run_id, "KILLED")
        self.client.set_terminated(self.run_id, "KILLED")
        return len(self._open | still)

    def mark_pruned(self, run_id: str, epoch: int) -> None:
        """A point its search stopped early (MLflow has no PRUNED status)."""
        self.client.set_tag(run_id, PRUNED_TAG, str(epoch))

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
            "error": run.data.tags.get(ERROR_TAG, "").partition("\n")[0],
        }

    def finish(
        self, artifacts: list[Path], failed: int, best: dict[str, Any] | None
    ) -> None:
        """Log the summary files and the ``best`` point's row (its params
        ``best_*``, its run id and accuracy), and close the sweep's run."""
        for path in artifacts:
            self.client.log_artifact(self.run_id, str(path))
        if best is not None:
            self.client.log_batch(
                self.run_id,
                metrics=[
                    Metric(
                        "best_val_accuracy",
                        float(best["val_accuracy"]),
                        int(time.time() * 1000),
                        0,
                    )
                ],
                params=mlflow_params(
                    {f"best_{k}": v for k, v in best.items() if k not in SUMMARY_ONLY}
                ),
                tags=[RunTag("pytorch_intro.best_run", str(best["run_id"]))],
            )
        self.client.set_tag(self.run_id, "pytorch_intro.failed", str(failed))
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
