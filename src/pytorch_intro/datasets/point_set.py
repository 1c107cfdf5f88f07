"""A Kedro dataset for the assignment's 2D point sets (``.npz``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import DatasetError, Version
from kedro_datasets._typing import TablePreview

from pytorch_intro.data.points import PointSet, validate_point_set
from pytorch_intro.datasets.local import LocalVersionedDataset
from pytorch_intro.internals import filepath, load_path, save_path


class PointSetDataset(LocalVersionedDataset[PointSet]):
    """``samples``/``annotations`` arrays in an ``.npz`` file, validated on load.

    Loading fails naming the file and the problem; the loaded dict also carries
    ``source``, its file, and ``origin`` (``data.lineage``: the file, and what
    a generator saved with the points, e.g. its seed). Saves are atomic.
    ``read_only``: refuse to save (a user's own raw files are never
    overwritten); ``missing_hint``: what to tell the user when the file does
    not exist.
    """

    def __init__(
        self,
        filepath: str,
        read_only: bool = False,
        missing_hint: str | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a point set dataset at ``filepath`` (local)."""
        super().__init__(filepath, version, metadata)
        self._read_only = read_only
        self._missing_hint = missing_hint

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
        saved = json.loads(str(arrays["origin"])) if "origin" in arrays else {}
        return points | {"source": str(path), "origin": saved | {"uri": str(path)}}

    def save(self, data: PointSet) -> None:
        if self._read_only:
            raise DatasetError(
                f"{filepath(self)} is read-only in the catalog: it holds your own "
                "raw data and is never overwritten"
            )
        points = validate_point_set(data, source="data to save")
        if origin := data.get("origin"):  # kept with the points (a str array)
            points["origin"] = np.array(json.dumps(origin, default=str))
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

    def preview(self, nrows: int = 5) -> TablePreview:
        """Kedro-Viz's preview: the first ``nrows`` points, the class counts in
        the label column's name; ``None`` while the file does not exist."""
        if not self.exists():
            return None
        points = self.load()
        labels = points["annotations"]
        counts = ", ".join(
            f"{label}: {count}"
            for label, count in enumerate(np.bincount(labels, minlength=2))
        )
        first = zip(
            points["samples"][:nrows].tolist(), labels[:nrows].tolist(), strict=True
        )
        return TablePreview(
            {
                "columns": ["x", "y", f"label ({counts})"],
                "data": [[x, y, label] for (x, y), label in first],
            }
        )

    def _describe(self) -> dict[str, Any]:
        return super()._describe() | {"read_only": self._read_only}
