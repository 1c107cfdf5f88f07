"""What the project's versioned datasets of local files share."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from kedro.io import AbstractVersionedDataset, Version

from pytorch_intro.internals import filepath, load_path, version

T = TypeVar("T")


class LocalVersionedDataset(AbstractVersionedDataset[T, T]):
    """A file or folder on the local disk, optionally versioned; subclasses
    read and write it."""

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset at ``filepath`` (local), optionally versioned."""
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self.metadata = metadata

    def _exists(self) -> bool:
        try:
            return Path(load_path(self)).exists()
        except Exception:  # no version saved yet
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(filepath(self)), "version": version(self)}
