"""Trained models as plain data: the architecture config plus the state dict.

Checkpoints are loaded with ``weights_only=True``, so loading a model file never
unpickles arbitrary objects.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pytorch_intro.models.registry import ModelConfig, build_model

Checkpoint = dict[str, Any]


def make_checkpoint(model: nn.Module, config: ModelConfig) -> Checkpoint:
    """Bundle a model's weights (moved to the CPU) with its architecture."""
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    return {"architecture": config.to_dict(), "state_dict": state}


def model_from_checkpoint(checkpoint: Checkpoint) -> nn.Module:
    """Rebuild the model a checkpoint describes, in eval mode, on the CPU."""
    try:
        config = ModelConfig(**checkpoint["architecture"])
        state = checkpoint["state_dict"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a model checkpoint: {exc}") from exc
    model = build_model(config)
    model.load_state_dict(state)
    return model.eval()


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> None:
    """Write a checkpoint atomically: a temporary file, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(checkpoint, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint without executing code from the file."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path}: not a loadable model checkpoint (only plain weights and "
            f"configs are accepted, never pickled code): {exc}"
        ) from exc
    if not isinstance(checkpoint, dict) or not {"architecture", "state_dict"} <= set(
        checkpoint
    ):
        raise ValueError(f"{path}: not a model checkpoint (architecture/state_dict)")
    return checkpoint
