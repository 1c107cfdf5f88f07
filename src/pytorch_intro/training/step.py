"""The training step: (parameters, Adam state, batch) -> new state, losses.

``TrainStep(copies, objective, optimizer)(params, state, lr, inputs, labels)``
takes every copy's gradient on its own batch, applies ``torch.optim.adam.adam``
(the functional form of ``torch.optim.Adam``: the same fused kernel) to
``params`` and ``state`` in place and returns the copies' losses. Nothing else
is read or written, so the whole step can be compiled.

The Adam state is ``torch.optim.Adam``'s own: ``optimizer.state[p]`` holds
``step``, ``exp_avg`` and ``exp_avg_sq`` of each parameter, and
``optimizer.param_groups`` the hyperparameters that ``torch.optim.lr_scheduler``
changes during training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.optim.adam import adam

from pytorch_intro.training.copies import ModelCopies
from pytorch_intro.training.objectives import Objective

#: One batch per copy: a list of tensors, or a tensor whose first dim is the copy.
Batches = Sequence[Tensor] | Tensor


@dataclass
class AdamState:
    """``torch.optim.Adam``'s state of each parameter, as the functional update takes it."""

    exp_avgs: list[Tensor]
    exp_avg_sqs: list[Tensor]
    steps: list[Tensor]

    @classmethod
    def of(cls, optimizer: torch.optim.Adam) -> AdamState:
        """The optimizer's state, initialised as ``torch.optim.Adam`` does."""
        (group,) = optimizer.param_groups
        for p in group["params"]:
            state = optimizer.state[p]
            if not state:
                on_device = group["fused"] or group["capturable"]
                state["step"] = torch.zeros(
                    (), dtype=torch.float32, device=p.device if on_device else "cpu"
                )
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
        states = [optimizer.state[p] for p in group["params"]]
        return cls(
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["step"] for s in states],
        )


class TrainStep:
    """One optimiser step of every copy, each on its own batch.

    Args:
        copies: the models being trained.
        objective: how their logits become a loss.
        optimizer: ``torch.optim.Adam`` over ``copies.parameters()``: its
            hyperparameters and state (see :class:`AdamState`).
    """

    def __init__(
        self, copies: ModelCopies, objective: Objective, optimizer: torch.optim.Adam
    ) -> None:
        self.copies = copies
        self.objective = objective
        (self.group,) = optimizer.param_groups

    def gradients(
        self, params: list[Tensor], inputs: Batches, labels: Batches
    ) -> tuple[list[Tensor], Tensor]:
        """Each copy's gradient and loss on its own batch (``inputs[k]``).

        One backward pass through the sum of the copies' losses: the copies
        share nothing, so copy k's gradient is the one it gets alone.
        """
        losses = torch.stack(
            [
                self.objective.loss(model(x), y)
                for model, x, y in zip(self.copies.models, inputs, labels, strict=True)
            ]
        )
        return list(torch.autograd.grad(losses.sum(), params)), losses.detach()

    def update(
        self,
        params: list[Tensor],
        grads: list[Tensor],
        state: AdamState,
        lr: float | Tensor,
    ) -> None:
        """One Adam update of ``params`` and ``state``, in place."""
        group = self.group
        with torch.no_grad():
            adam(
                params,
                grads,
                state.exp_avgs,
                state.exp_avg_sqs,
                [],
                state.steps,
                foreach=group["foreach"],
                fused=group["fused"],
                capturable=group["capturable"],
                amsgrad=False,
                beta1=group["betas"][0],
                beta2=group["betas"][1],
                lr=lr,
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=False,
            )

    def __call__(
        self,
        params: list[Tensor],
        state: AdamState,
        lr: float | Tensor,
        inputs: Batches,
        labels: Batches,
    ) -> Tensor:
        """Update ``params`` and ``state`` in place; return the (N,) batch losses.

        ``inputs[k]`` (B, ...) and ``labels[k]`` (B,) are copy k's batch: a
        list of tensors, or one (N, B, ...) tensor.
        """
        grads, losses = self.gradients(params, inputs, labels)
        self.update(params, grads, state, lr)
        return losses
