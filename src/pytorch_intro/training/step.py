"""The eager training step: every copy's loss, one backward pass, one Adam step.

N seeds train as N copies of the model, each on its own batch: the copies share
nothing, so the gradient of the sum of their losses is, for copy k, the one it
gets alone, and one ``torch.optim.Adam`` over all their parameters updates each
as if it were alone. (Not ``torch.func.vmap`` over stacked parameters: in
eager mode its per-call overhead made these small models slower; see
benchmarks/seed_copies.py.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pytorch_intro.training.objectives import classification_loss


class TrainStep:
    """One optimiser step of every copy, each on its own batch.

    Args:
        models: the copies being trained.
        optimizer: ``torch.optim.Adam`` over the copies' parameters, in order.
    """

    #: how the step runs, and the seconds spent compiling it (see ``CompiledStep``)
    path, compile_seconds = "eager", 0.0

    def __init__(
        self, models: Sequence[nn.Module], optimizer: torch.optim.Adam
    ) -> None:
        self.models, self.optimizer = list(models), optimizer

    def __call__(self, inputs: Sequence[Tensor], labels: Sequence[Tensor]) -> Tensor:
        """Train copy k on ``inputs[k]``, ``labels[k]``; return the (N,) losses."""
        losses = torch.stack(
            [
                classification_loss(model(x), y)
                for model, x, y in zip(self.models, inputs, labels, strict=True)
            ]
        )
        self.optimizer.zero_grad()
        losses.sum().backward()
        self.optimizer.step()
        return losses.detach()
