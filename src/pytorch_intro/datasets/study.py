"""Where a sweep's Optuna study is kept: a SQLite database file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class StudyDataset(AbstractDataset[None, str]):
    """Loads the address (``sqlite:///...``) of the database at ``filepath``,
    creating its folder; Optuna writes the database itself."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> str:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self._filepath.resolve()}"

    def save(self, data: None) -> None:
        raise DatasetError("a study is written by Optuna, not saved")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
