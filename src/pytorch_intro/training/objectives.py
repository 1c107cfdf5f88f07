"""Logits to a loss, a class and class probabilities: the one binary-or-multiclass rule.

A model with one output is a binary classifier (its logit is class 1's against
class 0); a model with K > 1 outputs has one logit per class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def num_classes_for(num_outputs: int) -> int:
    """The number of classes of a model with ``num_outputs`` logits."""
    return 2 if num_outputs == 1 else num_outputs


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean binary (one logit) or softmax cross-entropy of (N, K) logits."""
    if logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), labels.float())
    return F.cross_entropy(logits, labels)


def predict_classes(logits: Tensor) -> Tensor:
    """(N, K) logits -> (N,) the most probable class."""
    if logits.shape[-1] == 1:
        return (logits.squeeze(-1) >= 0).long()  # sigmoid(z) >= 0.5  <=>  z >= 0
    return logits.argmax(dim=-1)


def class_probabilities(logits: Tensor) -> Tensor:
    """(N, K) logits -> (N, num_classes) probabilities; one logit gives [1 - p, p]."""
    if logits.shape[-1] == 1:
        p1 = torch.sigmoid(logits)
        return torch.cat([1.0 - p1, p1], dim=-1)
    return torch.softmax(logits, dim=-1)
