"""A versioned Kedro dataset for model checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

from kedro_datasets._typing import JSONPreview

from pytorch_intro.datasets.local import LocalVersionedDataset
from pytorch_intro.internals import load_path, save_path
from pytorch_intro.models.checkpoint import (
    Checkpoint,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from pytorch_intro.models.registry import count_parameters


class TorchModelDataset(LocalVersionedDataset[Checkpoint]):
    """A checkpoint (architecture config + state dict) in a local ``.pt`` file.

    Files are written atomically and read with ``torch.load(weights_only=True)``:
    loading never runs code from a model file.
    """

    def load(self) -> Checkpoint:
        return load_checkpoint(Path(load_path(self)))

    def save(self, data: Checkpoint) -> None:
        save_checkpoint(data, Path(save_path(self)))

    def preview(self) -> JSONPreview:
        """Kedro-Viz's preview: the architecture, the parameter count and each
        parameter's shape; ``None`` while no version is saved."""
        if not self.exists():
            return None
        checkpoint = self.load()
        model = model_from_checkpoint(checkpoint)
        return JSONPreview(
            json.dumps(
                {
                    "architecture": checkpoint["architecture"],
                    "parameters": count_parameters(model),
                    "shapes": {
                        name: list(p.shape) for name, p in model.named_parameters()
                    },
                }
            )
        )
