"""How logits become a loss and class predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class Objective(NamedTuple):
    """A loss on logits and the matching class prediction and probability."""

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


def _argmax(logits: Tensor) -> Tensor:
    return logits.argmax(dim=-1)


BINARY = Objective(_binary_loss, _binary_predict, _binary_probability)
MULTICLASS = Objective(F.cross_entropy, _argmax, _softmax_max)


def objective_for(num_outputs: int) -> Objective:
    """One logit: binary cross-entropy; several: softmax cross-entropy."""
    return BINARY if num_outputs == 1 else MULTICLASS
