"""Several seeds of one model, trained together as one stacked network.

Small models are bound by per-step overhead, not arithmetic, so N copies cost
little more than one when their layers are stacked: N linear layers become one
batched matrix product (``baddbmm``), N convolutions one grouped convolution.
Each copy keeps its own initialisation (seeded like :func:`fit` seeds it), its
own shuffling order and its own Adam state; the loss is the sum of the copies'
losses, so each copy's gradient is the one it would get alone (up to
floating-point rounding, which Adam's normalised steps can turn into small
weight differences where a gradient is near zero).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pytorch_intro.models import ConvClassifier, LinearClassifier, MLPClassifier
from pytorch_intro.training.config import TrainingConfig
from pytorch_intro.training.loop import (
    BINARY,
    EVAL_BATCH_SIZE,
    Adam,
    EpochResult,
    Objective,
    _memory_format,
    _num_outputs,
    _schedule,
    objective_for,
)
from pytorch_intro.training.runtime import intra_op_threads, resolve_device

logger = logging.getLogger(__name__)


class _StackedLinear(nn.Module):
    """N ``nn.Linear`` layers: (N, B, in) -> (N, B, out)."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.stack([m.weight.detach().mT for m in layers]))
        self.bias = nn.Parameter(
            torch.stack([m.bias.detach() for m in layers])[:, None]
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class _StackedConv(nn.Module):
    """N ``nn.Conv2d`` layers as one grouped convolution on (B, N*C, H, W)."""

    def __init__(self, layers: Sequence[nn.Conv2d]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.cat([m.weight.detach() for m in layers]))
        self.bias = nn.Parameter(torch.cat([m.bias.detach() for m in layers]))
        self.groups = len(layers)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, groups=self.groups)


def _stack_layers(sequences: Sequence[nn.Sequential]) -> nn.Sequential:
    stacked: list[nn.Module] = []
    for layers in zip(*sequences, strict=True):
        first = layers[0]
        if isinstance(first, nn.Linear):
            stacked.append(_StackedLinear(layers))
        elif isinstance(first, nn.Conv2d):
            stacked.append(_StackedConv(layers))
        elif isinstance(first, nn.ReLU | nn.MaxPool2d | nn.AdaptiveMaxPool2d):
            stacked.append(first)  # no parameters, per channel: shared as is
        else:
            raise TypeError(f"cannot stack a {type(first).__name__} layer")
    return nn.Sequential(*stacked)


class StackedModel(nn.Module):
    """N models of one architecture as one network: inputs (N, B, ...) -> (N, B, K).

    Supports the project's classifiers (linear, MLP, CNN). ``unstack`` gives the
    N models back, with the trained weights.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        kinds = {type(m) for m in models}
        if len(kinds) != 1:
            raise TypeError(f"models of one architecture only, got {kinds}")
        self.count = len(models)
        self.kind = kinds.pop()
        if self.kind not in (LinearClassifier, MLPClassifier, ConvClassifier):
            raise TypeError(f"cannot stack {self.kind.__name__} models")
        self.templates = list(models)  # for unstack (not trained here)
        self.layers = _stack_layers([m.layers for m in models])
        self.classifier = (
            _stack_layers([m.classifier for m in models])
            if self.kind is ConvClassifier
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        n, b = x.shape[:2]
        if self.classifier is None:
            return self.layers(x.reshape(n, b, -1))
        if x.dim() == 4:  # (N, B, H, W): a single channel
            x = x.unsqueeze(2)
        # (N, B, C, H, W) -> (B, N*C, H, W): copy k sees only channels of copy k
        grouped = x.transpose(0, 1).reshape(b, -1, *x.shape[3:])
        # The input's layout follows the weights' (fit_seeds makes both
        # channels-last on the CPU): with channels-last inputs but contiguous
        # grouped weights, torch 2.13 on the CPU trained on stale weights.
        if self.layers[0].weight.is_contiguous(memory_format=torch.channels_last):
            grouped = grouped.contiguous(memory_format=torch.channels_last)
        features = self.layers(grouped)
        return self.classifier(features.reshape(b, n, -1).transpose(0, 1))

    def unstack(self) -> list[nn.Module]:
        """The N models, each with its own trained parameters."""
        trained = [dict() for _ in range(self.count)]
        for prefix, stack in (("layers", self.layers), ("classifier", self.classifier)):
            if stack is None:
                continue
            for index, layer in enumerate(stack):
                if isinstance(layer, _StackedLinear):
                    for k in range(self.count):
                        trained[k][f"{prefix}.{index}.weight"] = layer.weight[k].mT
                        trained[k][f"{prefix}.{index}.bias"] = layer.bias[k, 0]
                elif isinstance(layer, _StackedConv):
                    weights = layer.weight.chunk(self.count)
                    biases = layer.bias.chunk(self.count)
                    for k in range(self.count):
                        trained[k][f"{prefix}.{index}.weight"] = weights[k]
                        trained[k][f"{prefix}.{index}.bias"] = biases[k]
        models = []
        for template, state in zip(self.templates, trained, strict=True):
            model = copy.deepcopy(template)
            model.load_state_dict({k: v.detach().clone() for k, v in state.items()})
            models.append(model)
        return models


def fit_seeds(
    models: Sequence[nn.Module],
    seeds: Sequence[int],
    train: tuple[Tensor, Tensor],
    valid: tuple[Tensor, Tensor],
    config: TrainingConfig,
    name: str = "model",
) -> tuple[list[nn.Module], list[list[EpochResult]]]:
    """Train ``models`` (one per seed, freshly initialised) together.

    Copy ``k`` shuffles with ``seeds[k]``, as :func:`fit` with that seed would.
    ``config.seed`` is not used; everything else in ``config`` applies to all.

    Returns:
        The trained models and, for each, one ``EpochResult`` per epoch
        (``train_seconds`` is the time of the joint epoch).
    """
    if len(models) != len(seeds) or not seeds:
        raise ValueError(f"{len(models)} models for {len(seeds)} seeds")
    device = resolve_device(config.device)
    count = len(seeds)
    with intra_op_threads(config.num_threads if device.type == "cpu" else 0):
        stacked = StackedModel(models).to(
            device, memory_format=_memory_format(models[0], device)
        )
        inputs, labels = (t.to(device) for t in train)
        valid_x, valid_y = (t.to(device) for t in valid)
        objective = objective_for(_num_outputs(models[0], train[0]))
        optimizer = Adam([p for p in stacked.parameters()], config.lr)
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        steps = -(-len(inputs) // config.batch_size)
        learning_rate = _schedule(config, steps)
        histories: list[list[EpochResult]] = [[] for _ in seeds]
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            orders = torch.stack(
                [torch.randperm(len(inputs), generator=g) for g in generators]
            ).to(device)
            losses = []
            for start in range(0, len(inputs), config.batch_size):
                index = orders[:, start : start + config.batch_size]
                per_copy = _copy_losses(
                    objective, stacked(inputs[index]), labels[index]
                )
                if learning_rate is not None:
                    optimizer.lr = learning_rate()
                grads = torch.autograd.grad(per_copy.sum(), optimizer.params)
                optimizer.step(list(grads))
                losses.append(per_copy.detach() * index.shape[1])
            seconds = time.perf_counter() - started
            train_loss = (torch.stack(losses).sum(0) / len(inputs)).tolist()
            evaluation = _evaluate(stacked, objective, valid_x, valid_y, count)
            for k in range(count):
                histories[k].append(
                    EpochResult(epoch, train_loss[k], *evaluation[k], seconds)
                )
            logger.info(
                "%s x%d seeds epoch %02d/%02d: val_accuracy %s (%.2fs)",
                name,
                count,
                epoch,
                config.epochs,
                " ".join(f"{a:.4f}" for _, a in evaluation),
                seconds,
            )
    trained = [m.eval() for m in stacked.cpu().unstack()]
    return trained, histories


def _copy_losses(objective: Objective, logits: Tensor, labels: Tensor) -> Tensor:
    """Each copy's mean loss: logits (N, B, K), labels (N, B) -> (N,)."""
    if objective is BINARY:
        losses = F.binary_cross_entropy_with_logits(
            logits.squeeze(-1), labels.float(), reduction="none"
        )
    else:
        losses = F.cross_entropy(
            logits.flatten(0, 1), labels.flatten(), reduction="none"
        ).view(labels.shape)
    return losses.mean(dim=1)


@torch.inference_mode()
def _evaluate(
    stacked: StackedModel,
    objective: Objective,
    inputs: Tensor,
    labels: Tensor,
    count: int,
) -> list[tuple[float, float]]:
    """(loss, accuracy) of each copy on the same labelled set."""
    stacked.eval()
    logits = torch.cat(
        [
            stacked(chunk.unsqueeze(0).expand(count, *chunk.shape))
            for chunk in inputs.split(EVAL_BATCH_SIZE)
        ],
        dim=1,
    )
    stacked.train()
    return [
        (
            objective.loss(logits[k], labels).item(),
            (objective.predict(logits[k]) == labels).double().mean().item(),
        )
        for k in range(count)
    ]
