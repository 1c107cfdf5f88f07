"""A versioned Kedro dataset for model checkpoints."""

from __future__ import annotations

from pathlib import Path

from pytorch_intro.datasets.local import LocalVersionedDataset
from pytorch_intro.internals import load_path, save_path
from pytorch_intro.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


class TorchModelDataset(LocalVersionedDataset[Checkpoint]):
    """A checkpoint (architecture config + state dict) in a local ``.pt`` file.

    Files are written atomically and read with ``torch.load(weights_only=True)``:
    loading never runs code from a model file.
    """

    def load(self) -> Checkpoint:
        return load_checkpoint(Path(load_path(self)))

    def save(self, data: Checkpoint) -> None:
        save_checkpoint(data, Path(save_path(self)))
