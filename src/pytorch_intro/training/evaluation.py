"""Predictions, metrics and dead units of one trained model on in-memory tensors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from pytorch_intro.training.objectives import (
    class_probabilities,
    classification_loss,
    predict_classes,
)

#: Images per forward pass: the CNN's convolutions ran fastest at a few hundred
#: (10,000 test images: 0.21 s at 256, 0.30 s at 2048; benchmarks/README.md).
EVAL_BATCH_SIZE = 256


@dataclass
class Evaluation:
    """Loss, accuracy, the (N,) predicted classes and (N, classes) probabilities."""

    loss: float
    accuracy: float
    predictions: Tensor
    probabilities: Tensor


def to_tensors(samples: np.ndarray, annotations: np.ndarray) -> tuple[Tensor, Tensor]:
    """Inputs as float32 and labels as int64 tensors (on the CPU)."""
    inputs = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    labels = torch.from_numpy(np.ascontiguousarray(annotations, dtype=np.int64))
    return inputs, labels


@torch.inference_mode()
def predict_logits(
    model: nn.Module, inputs: Tensor, batch_size: int = EVAL_BATCH_SIZE
) -> Tensor:
    """The model's logits for ``inputs`` (computed in eval mode, returned on the CPU)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits = torch.cat(
        [
            model(inputs[start : start + batch_size].to(device))
            for start in range(0, len(inputs), batch_size)
        ]
    ).cpu()
    model.train(was_training)
    return logits


def evaluate(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    batch_size: int = EVAL_BATCH_SIZE,
) -> Evaluation:
    """Mean loss, accuracy and predictions of ``model`` on ``inputs``."""
    logits = predict_logits(model, inputs, batch_size)
    predictions = predict_classes(logits)
    return Evaluation(
        loss=classification_loss(logits, labels).item(),
        accuracy=(predictions == labels).double().mean().item(),
        predictions=predictions,
        probabilities=class_probabilities(logits),
    )


@dataclass(frozen=True)
class DeadUnits:
    """How many of a model's ReLU units never fired (``dead``), of ``total``."""

    dead: int
    total: int


@contextlib.contextmanager
def dead_units_of(model: nn.Module) -> Iterator[Callable[[], DeadUnits | None]]:
    """Inside the block, note which units of the model's ``nn.ReLU`` modules
    fire in its forward passes; the function it gives counts, afterwards, those
    that output exactly 0 for every sample (None: the model has no ``nn.ReLU``).

    A unit is one feature of a ReLU's (N, C, ...) output: a hidden neuron of a
    linear layer, or a channel of a convolution, which is dead only when it is 0
    at every position of every sample. Dead on the training data too, it gets no
    gradient: training cannot revive it.
    """
    relus = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    fired: dict[nn.Module, Tensor] = {}

    def record(module: nn.Module, _: tuple[Tensor, ...], output: Tensor) -> None:
        # (N, C, ...) -> (C,): whether each unit fired anywhere in this batch
        active = (output > 0).flatten(2).any(2) if output.dim() > 2 else output > 0
        fired[module] = active.any(0) | fired.get(module, False)

    def count() -> DeadUnits | None:
        if not relus:
            return None
        return DeadUnits(
            dead=sum(int((~units).sum()) for units in fired.values()),
            total=sum(units.numel() for units in fired.values()),
        )

    handles = [relu.register_forward_hook(record) for relu in relus]
    try:
        yield count
    finally:
        for handle in handles:
            handle.remove()
