"""A Kedro dataset for the assignment's 2D point sets (``.npz``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from pytorch_intro.data.points import PointSet, validate_point_set


class PointSetDataset(AbstractDataset[PointSet, PointSet]):
    """``samples``/``annotations`` arrays in an ``.npz`` file, validated on load.

    Loading fails with a message naming the file and the problem (missing keys,
    wrong shapes, non-finite values, labels other than 0/1, ...). The loaded dict
    also carries ``source``: the file it came from.

    Example catalog entry::

        simple2d.assignment_train:
          type: pytorch_intro.datasets.PointSetDataset
          filepath: data/01_raw/simple2d/train.npz
          read_only: true
    """

    def __init__(
        self,
        filepath: str,
        read_only: bool = False,
        missing_hint: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a point set dataset.

        Args:
            filepath: local path of the ``.npz`` file.
            read_only: refuse to save, so a user's own raw files are never
                overwritten.
            missing_hint: what to tell the user when the file does not exist.
            metadata: free-form metadata (e.g. the kedro-viz layer).
        """
        self._filepath = PurePosixPath(filepath)
        self._read_only = read_only
        self._missing_hint = missing_hint
        self.metadata = metadata

    def load(self) -> PointSet:
        path = Path(self._filepath)
        if not path.is_file():
            hint = f": {self._missing_hint}" if self._missing_hint else ""
            raise DatasetError(f"{path}: no such file{hint}")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: not a readable .npz file ({exc})") from exc
        points = validate_point_set(arrays, source=str(path))
        return points | {"source": str(path)}

    def save(self, data: PointSet) -> None:
        path = Path(self._filepath)
        if self._read_only:
            raise DatasetError(
                f"{path} is read-only in the catalog: it holds your own raw data "
                "and is never overwritten"
            )
        points = validate_point_set(data, source="data to save")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.stem}.", suffix=".npz"
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **points)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "read_only": self._read_only}
