"""A versioned Kedro dataset for model checkpoints."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractVersionedDataset, Version

from pytorch_intro.internals import filepath, load_path, save_path, version
from pytorch_intro.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


class TorchModelDataset(AbstractVersionedDataset[Checkpoint, Checkpoint]):
    """A checkpoint (architecture config + state dict) in a local ``.pt`` file.

    Files are written atomically and read with ``torch.load(weights_only=True)``:
    loading never runs code from a model file.
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a model dataset at ``filepath`` (local), optionally versioned."""
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self.metadata = metadata

    def load(self) -> Checkpoint:
        return load_checkpoint(Path(load_path(self)))

    def save(self, data: Checkpoint) -> None:
        save_checkpoint(data, Path(save_path(self)))

    def _exists(self) -> bool:
        try:
            return Path(load_path(self)).is_file()
        except Exception:  # no version saved yet
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(filepath(self)), "version": version(self)}
