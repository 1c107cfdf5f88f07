"""A Kedro dataset for the assignment's 2D point sets (``.npz``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractVersionedDataset, DatasetError, Version

from pytorch_intro.data.points import PointSet, validate_point_set
from pytorch_intro.internals import filepath, load_path, save_path, version


class PointSetDataset(AbstractVersionedDataset[PointSet, PointSet]):
    """``samples``/``annotations`` arrays in an ``.npz`` file, validated on load.

    Loading fails with a message naming the file and the problem (missing keys,
    wrong shapes, non-finite values, labels other than 0/1, ...). The loaded dict
    also carries ``source``: the file it came from. Saves are atomic (a
    temporary file, then a rename); with ``versioned: true`` each run writes
    its own version, so concurrent runs never read each other's points.

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
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a point set dataset.

        Args:
            filepath: local path of the ``.npz`` file.
            read_only: refuse to save, so a user's own raw files are never
                overwritten.
            missing_hint: what to tell the user when the file does not exist.
            version: load/save versions (``versioned: true`` in the catalog).
            metadata: free-form metadata (e.g. the kedro-viz layer).
        """
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self._read_only = read_only
        self._missing_hint = missing_hint
        self.metadata = metadata

    def load(self) -> PointSet:
        try:
            path = Path(load_path(self))
        except DatasetError:  # versioned, and no version saved yet
            path = Path(filepath(self))
        try:
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except FileNotFoundError as exc:
            hint = f": {self._missing_hint}" if self._missing_hint else ""
            raise DatasetError(f"{path}: no such file{hint}") from exc
        except PermissionError as exc:
            raise DatasetError(
                f"{path}: cannot read it ({exc.strerror}); make the file and its "
                f"folder readable (chmod u+r {path}, chmod u+rx {path.parent})"
            ) from exc
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: not a readable .npz file ({exc})") from exc
        points = validate_point_set(arrays, source=str(path))
        return points | {"source": str(path)}

    def save(self, data: PointSet) -> None:
        if self._read_only:
            path = Path(filepath(self))
            raise DatasetError(
                f"{path} is read-only in the catalog: it holds your own raw data "
                "and is never overwritten"
            )
        points = validate_point_set(data, source="data to save")
        path = Path(save_path(self))
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
        try:
            return Path(load_path(self)).is_file()
        except DatasetError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(filepath(self)),
            "read_only": self._read_only,
            "version": version(self),
        }
