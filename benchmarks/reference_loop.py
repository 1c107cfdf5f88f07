"""The assignment's training loop, as its scripts wrote it: the benchmark's baseline.

A per-sample ``Dataset`` (one sample per ``__getitem__``, MNIST normalised
there), a shuffling ``DataLoader``, ``torch.optim.Adam`` with its defaults, and
``zero_grad`` / ``backward`` / ``step`` per mini-batch, with torch's default
thread count. Only the models are the project's (same architectures), so both
loops train exactly the same networks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset


class PointsDataset(Dataset):
    """The assignment's 2D dataset: one (x, y) sample and its label per item."""

    def __init__(self, samples: np.ndarray, annotations: np.ndarray) -> None:
        self.samples = samples
        self.annotations = annotations

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, idx: int) -> dict[str, np.ndarray]:
        return {
            "input": self.samples[idx].astype(np.float32),
            "annotation": np.float32(self.annotations[idx]),
        }


class DigitsDataset(Dataset):
    """The assignment's MNIST dataset: normalises each image when it is read."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> dict[str, np.ndarray]:
        image = (self.images[idx].astype(np.float32) / 127.5) - 1
        return {"input": image[None], "annotation": np.int64(self.labels[idx])}


def _loss(output: torch.Tensor, annotation: torch.Tensor) -> torch.Tensor:
    if output.shape[-1] == 1:  # the 2D models: one logit
        return F.binary_cross_entropy_with_logits(output.squeeze(-1), annotation)
    return F.cross_entropy(output, annotation)


def run_training_epoch(
    model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer
) -> float:
    """The assignment's ``run_training_epoch``; returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    for batch in loader:
        optimizer.zero_grad()
        output = model(batch["input"])
        loss = _loss(output, batch["annotation"])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch["input"])
        count += len(batch["input"])
    return total / count


@torch.no_grad()
def run_validation_epoch(model: nn.Module, loader: DataLoader) -> float:
    """The assignment's validation pass; returns the accuracy (a fraction)."""
    model.eval()
    correct, count = 0, 0
    for batch in loader:
        output = model(batch["input"])
        if output.shape[-1] == 1:
            predicted = (output.squeeze(-1) >= 0).long()
            target = batch["annotation"].long()
        else:
            predicted, target = output.argmax(dim=-1), batch["annotation"]
        correct += int((predicted == target).sum())
        count += len(target)
    return correct / count


def loaders(
    train: Dataset, valid: Dataset, batch_size: int, workers: int, seed: int
) -> tuple[DataLoader, DataLoader]:
    """Shuffled training and ordered validation loaders, as the assignment's."""
    generator = torch.Generator().manual_seed(seed)
    return (
        DataLoader(
            train,
            batch_size=batch_size,
            shuffle=True,
            num_workers=workers,
            generator=generator,
            persistent_workers=workers > 0,
        ),
        DataLoader(
            valid,
            batch_size=batch_size,
            shuffle=False,
            num_workers=workers,
            persistent_workers=workers > 0,
        ),
    )
