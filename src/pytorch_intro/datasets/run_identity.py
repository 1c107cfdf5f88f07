"""A read-only Kedro dataset: what identifies the current run."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import mlflow
from kedro.io import AbstractDataset, DatasetError


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_commit() -> str | None:
    """The checked-out commit (``+dirty`` with uncommitted changes), if any."""
    commit = _git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return None
    return (
        f"{commit}+dirty"
        if _git("status", "--porcelain", "--untracked-files=no")
        else commit
    )


def _mlflow_run(ui: str | None) -> dict[str, str | None]:
    run = mlflow.active_run()  # kedro-mlflow's run; None when tracking is off
    if run is None:
        return {"mlflow_run_id": None, "mlflow_experiment_id": None}
    identity = {
        "mlflow_run_id": run.info.run_id,
        "mlflow_experiment_id": run.info.experiment_id,
    }
    if ui:  # the UI's runs page, showing this run's variants side by side
        children = f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
        identity["mlflow_variants_url"] = (
            f"{ui.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs"
            f"?workflowType=machine_learning&searchFilter={quote(children)}"
        )
    return identity


class RunIdentityDataset(AbstractDataset[None, dict[str, Any]]):
    """The run's date, git commit and MLflow run id, read once per session.

    The first load fixes the values (and a random ``token``), so every node of
    one ``kedro run`` sees the same identity, and results saved by an earlier
    run can be told apart from this run's.
    """

    def __init__(
        self, mlflow_ui: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        """Create the dataset; ``mlflow_ui``: the MLflow UI's address, for links."""
        self.metadata = metadata
        self._ui = mlflow_ui
        self._identity: dict[str, Any] | None = None

    def load(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = {
                "token": uuid.uuid4().hex,
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "git_commit": git_commit(),
                **_mlflow_run(self._ui),
            }
        return dict(self._identity)

    def save(self, data: None) -> None:
        raise DatasetError("RunIdentityDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {}
