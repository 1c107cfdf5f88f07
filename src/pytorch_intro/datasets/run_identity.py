"""A read-only Kedro dataset: what identifies the current run."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import mlflow
from kedro.io import AbstractDataset, DatasetError


def experiment_addresses(ui: str, experiment_id: str) -> dict[str, str]:
    """The MLflow UI's pages of an experiment: its runs (in the model-training
    view) and its models."""
    page = f"{ui.rstrip('/')}/#/experiments/{experiment_id}"
    return {
        view: f"{page}/{view}?workflowType=machine_learning"
        for view in ("runs", "models")
    }


def git_commit() -> str | None:
    """The checked-out commit (``+dirty`` with uncommitted changes), if any."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD")
    dirty = commit and git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}+dirty" if dirty else commit or None


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
            run = mlflow.active_run()  # kedro-mlflow's run; None when tracking is off
            self._identity = {
                "token": uuid.uuid4().hex,
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "git_commit": git_commit(),
                "mlflow_run_id": run and run.info.run_id,
                "mlflow_experiment_id": run and run.info.experiment_id,
            }
            if run and self._ui:  # the UI's runs page, with this run's variants
                children = f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
                runs = experiment_addresses(self._ui, run.info.experiment_id)["runs"]
                self._identity["mlflow_variants_url"] = (
                    f"{runs}&searchFilter={quote(children)}"
                )
        return dict(self._identity)

    def save(self, data: None) -> None:
        raise DatasetError("RunIdentityDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {}
