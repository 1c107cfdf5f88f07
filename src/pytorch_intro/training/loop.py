"""Training and evaluation on in-memory tensors.

The data is held as tensors and each epoch slices mini-batches from a seeded
permutation: no per-sample ``Dataset``/``DataLoader``, which is where the
assignment's loop spent most of its time.
"""

from __future__ import annotations

import itertools
import logging
import math
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


class Adam:
    """Adam exactly as ``torch.optim.Adam(fused=True)`` computes it, lighter per step.

    At batch 16 a step of these models takes a few hundred microseconds, and
    ``Optimizer.step`` (hooks, parameter groups, ``zero_grad``) adds about a
    fifth to it. This keeps the same state and calls the same fused kernel on
    gradients handed over by ``torch.autograd.grad``, so nothing accumulates
    into ``.grad`` and nothing needs zeroing. tests/test_training.py checks the
    parameters stay bit-identical to ``torch.optim.Adam``'s.
    """

    def __init__(
        self,
        params: list[Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avgs = [torch.zeros_like(p) for p in params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in params]
        self.steps = [torch.zeros((), device=p.device) for p in params]

    @torch.no_grad()
    def step(self, grads: list[Tensor]) -> None:
        torch._foreach_add_(self.steps, 1)
        torch._fused_adam_(
            self.params,
            grads,
            self.exp_avgs,
            self.exp_avg_sqs,
            [],
            self.steps,
            lr=self.lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )


def one_cycle(
    step: int, total: int, peak: float, warmup: float = 0.25, start: float = 25.0
) -> float:
    """The one-cycle learning rate at ``step`` (0-based) of ``total`` steps.

    Cosine warm-up from ``peak / start`` to ``peak`` over the first ``warmup``
    fraction of the steps, then cosine annealing to ``peak / 1e4``.
    """
    low, end = peak / start, peak / 1e4
    rise = max(1, round(warmup * total))
    if step < rise:
        return low + (peak - low) * (1 - math.cos(math.pi * step / rise)) / 2
    fall = max(1, total - rise)
    return (
        end + (peak - end) * (1 + math.cos(math.pi * min(step - rise, fall) / fall)) / 2
    )


def _schedule(config: TrainingConfig, steps: int) -> Callable[[], float] | None:
    """A per-step learning-rate function for ``config.schedule`` (None: constant)."""
    if config.schedule != "onecycle":
        return None
    counter, total = itertools.count(), config.epochs * steps
    return lambda: one_cycle(next(counter), total, config.lr)


def train_one_epoch(
    model: nn.Module,
    optimizer: Adam,
    objective: Objective,
    inputs: Tensor,
    labels: Tensor,
    batch_size: int,
    generator: torch.Generator,
    progress: tqdm | None = None,
    learning_rate: Callable[[], float] | None = None,
) -> float:
    """One pass over shuffled mini-batches; returns the mean training loss.

    ``learning_rate``, if given, is called before every step for its rate.
    """
    model.train()
    order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
    # One gather per epoch; each step then takes a contiguous slice (a view).
    inputs, labels = inputs[order], labels[order]
    params = optimizer.params
    losses = []
    for start in range(0, len(inputs), batch_size):
        batch = slice(start, start + batch_size)
        loss = objective.loss(model(inputs[batch]), labels[batch])
        if learning_rate is not None:
            optimizer.lr = learning_rate()
        optimizer.step(list(torch.autograd.grad(loss, params)))
        losses.append(loss.detach())  # kept on the device: no host sync per step
        if progress is not None:
            progress.update(1)
    sizes = torch.full((len(losses),), float(batch_size), device=inputs.device)
    sizes[-1] = len(inputs) - batch_size * (len(losses) - 1)
    return (torch.stack(losses) @ sizes).item() / len(inputs)


def _memory_format(model: nn.Module, device: torch.device) -> torch.memory_format:
    """channels_last for convolutions on the CPU: oneDNN's fast layout there."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return (
        torch.channels_last
        if has_conv and device.type == "cpu"
        else torch.contiguous_format
    )


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
        layout = _memory_format(model, device)
        model.to(device, memory_format=layout)
        train_x, train_y = (t.to(device) for t in train)
        if train_x.dim() == 4:
            train_x = train_x.contiguous(memory_format=layout)
        objective = objective_for(_num_outputs(model, train_x))
        optimizer = Adam([p for p in model.parameters() if p.requires_grad], config.lr)
        generator = torch.Generator().manual_seed(config.seed)
        steps = -(-len(train_x) // config.batch_size)
        learning_rate = _schedule(config, steps)
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
                    learning_rate,
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
    model.to("cpu", memory_format=torch.contiguous_format).eval()
    return history


def history_records(history: list[EpochResult]) -> list[dict[str, float]]:
    """The history as a list of plain dicts (one per epoch)."""
    return [asdict(result) for result in history]
