"""Predictions and metrics of one trained model on in-memory tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from pytorch_intro.training.objectives import (
    class_probabilities,
    classification_loss,
    predict_classes,
)

EVAL_BATCH_SIZE = 2048


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
