"""Training and evaluation on in-memory tensors.

The data is held as tensors and each epoch slices mini-batches from a seeded
permutation: no per-sample ``Dataset``/``DataLoader``, which is where the
assignment's loop spent most of its time.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from pytorch_intro.training.config import TrainingConfig
from pytorch_intro.training.runtime import intra_op_threads, resolve_device

logger = logging.getLogger(__name__)

EVAL_BATCH_SIZE = 2048


class Objective(NamedTuple):
    """How logits become a loss and class predictions."""

    loss: Callable[[Tensor, Tensor], Tensor]
    predict: Callable[[Tensor], Tensor]
    probability: Callable[[Tensor], Tensor]


def _binary_loss(logits: Tensor, targets: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits.squeeze(-1), targets.float())


def _binary_predict(logits: Tensor) -> Tensor:
    # sigmoid(z) >= 0.5  <=>  z >= 0
    return (logits.squeeze(-1) >= 0).long()


def _binary_probability(logits: Tensor) -> Tensor:
    return torch.sigmoid(logits.squeeze(-1))


def _softmax_max(logits: Tensor) -> Tensor:
    return torch.softmax(logits, dim=-1).amax(dim=-1)


BINARY = Objective(_binary_loss, _binary_predict, _binary_probability)
MULTICLASS = Objective(F.cross_entropy, lambda z: z.argmax(dim=-1), _softmax_max)


def objective_for(num_outputs: int) -> Objective:
    """One logit: binary cross-entropy; several: softmax cross-entropy."""
    return BINARY if num_outputs == 1 else MULTICLASS


@dataclass
class EpochResult:
    """Metrics of one epoch; ``val_accuracy`` is a fraction in [0, 1]."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    train_seconds: float


@dataclass
class Evaluation:
    """Loss, accuracy and per-sample predictions on a labelled set."""

    loss: float
    accuracy: float
    predictions: Tensor
    probabilities: Tensor


def to_tensors(samples: np.ndarray, annotations: np.ndarray) -> tuple[Tensor, Tensor]:
    """Inputs as float32 and labels as int64 tensors (on the CPU)."""
    inputs = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    labels = torch.from_numpy(np.ascontiguousarray(annotations, dtype=np.int64))
    return inputs, labels


def _num_outputs(model: nn.Module, sample: Tensor) -> int:
    with torch.inference_mode():
        return model(sample[:1]).shape[-1]


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


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    objective: Objective | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> Evaluation:
    """Mean loss, accuracy and predictions of ``model`` on ``inputs``."""
    logits = predict_logits(model, inputs, batch_size)
    objective = objective or objective_for(logits.shape[-1])
    predictions = objective.predict(logits)
    return Evaluation(
        loss=objective.loss(logits, labels).item(),
        accuracy=(predictions == labels).double().mean().item(),
        predictions=predictions,
        probabilities=objective.probability(logits),
    )


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    objective: Objective,
    inputs: Tensor,
    labels: Tensor,
    batch_size: int,
    generator: torch.Generator,
    progress: tqdm | None = None,
) -> float:
    """One pass over shuffled mini-batches; returns the mean training loss."""
    model.train()
    order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
    # Accumulate on the device: no host sync per step.
    total = torch.zeros((), device=inputs.device)
    for start in range(0, len(inputs), batch_size):
        index = order[start : start + batch_size]
        loss = objective.loss(model(inputs[index]), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(index)
        if progress is not None:
            progress.update(1)
    return total.item() / len(inputs)


def fit(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    valid: tuple[Tensor, Tensor],
    config: TrainingConfig,
    name: str = "model",
) -> list[EpochResult]:
    """Train ``model`` in place with Adam and evaluate it after every epoch.

    Args:
        model: a freshly initialised model returning logits.
        train: training inputs and integer labels.
        valid: validation inputs and integer labels.
        config: validated hyperparameters.
        name: shown in the log lines and the progress bar.

    Returns:
        One ``EpochResult`` per epoch.
    """
    device = resolve_device(config.device)
    with intra_op_threads(config.num_threads if device.type == "cpu" else 0):
        model.to(device)
        train_x, train_y = (t.to(device) for t in train)
        objective = objective_for(_num_outputs(model, train_x))
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda")
        )
        generator = torch.Generator().manual_seed(config.seed)
        steps = -(-len(train_x) // config.batch_size)
        history: list[EpochResult] = []
        with tqdm(
            total=config.epochs * steps,
            desc=name,
            disable=not sys.stderr.isatty(),
            leave=False,
        ) as progress:
            for epoch in range(1, config.epochs + 1):
                started = time.perf_counter()
                train_loss = train_one_epoch(
                    model,
                    optimizer,
                    objective,
                    train_x,
                    train_y,
                    config.batch_size,
                    generator,
                    progress,
                )
                seconds = time.perf_counter() - started
                result = evaluate(model, *valid, objective=objective)
                history.append(
                    EpochResult(
                        epoch, train_loss, result.loss, result.accuracy, seconds
                    )
                )
                logger.info(
                    "%s epoch %02d/%02d: train_loss=%.4f val_loss=%.4f "
                    "val_accuracy=%.4f (%.2fs)",
                    name,
                    epoch,
                    config.epochs,
                    train_loss,
                    result.loss,
                    result.accuracy,
                    seconds,
                )
    model.cpu().eval()
    return history


def history_records(history: list[EpochResult]) -> list[dict[str, float]]:
    """The history as a list of plain dicts (one per epoch)."""
    return [asdict(result) for result in history]
