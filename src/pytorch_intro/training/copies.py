"""N copies of one model (one per seed), trained and evaluated as one.

The copies are ordinary modules: any ``nn.Module`` works, and copy k computes
exactly what it would compute alone. Their parameters are one list (copy 0's,
then copy 1's, ...), so one optimiser call updates them all.

Why not ``torch.func.vmap`` over stacked parameters: in eager mode its
per-call overhead (pytree flattening, functorch levels, Python decompositions
of losses) made a batch-16 step of these small models 3-5x slower than the
plain module for one copy, and no faster for five (``benchmarks/``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

Params = dict[str, Tensor]


class ModelCopies:
    """N models of one architecture, each with its own parameters.

    Args:
        models: the copies, freshly initialised (each with its own seed), all of
            one architecture; they are copied, the originals stay as they are.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        if not models:
            raise ValueError("ModelCopies needs at least one model")
        kinds = {type(m) for m in models}
        if len(kinds) != 1:
            raise TypeError(f"copies of one architecture only, got {kinds}")
        self.models = [copy.deepcopy(m) for m in models]
        self.names = [name for name, _ in self.models[0].named_parameters()]

    def to(
        self,
        device: torch.device,
        memory_format: torch.memory_format = torch.preserve_format,
    ) -> ModelCopies:
        """Move every copy (in place)."""
        for model in self.models:
            model.to(device, memory_format=memory_format)
        return self

    def __len__(self) -> int:
        return len(self.models)

    def parameters(self) -> list[Tensor]:
        """Every copy's parameters, copy by copy (the optimiser's order)."""
        return [p for model in self.models for p in model.parameters()]

    def by_copy(self, tensors: Sequence[Tensor]) -> list[Params]:
        """Split a list aligned with :meth:`parameters` into one dict per copy."""
        size = len(self.names)
        return [
            dict(zip(self.names, tensors[k * size : (k + 1) * size], strict=True))
            for k in range(len(self))
        ]

    def logits(self, inputs: Tensor, shared: bool = True) -> Tensor:
        """Every copy's logits: on the same inputs, (B, ...) -> (N, B, K), or
        (``shared=False``) each on its own, (N, B, ...) -> (N, B, K)."""
        batches = [inputs] * len(self) if shared else inputs
        return torch.stack(
            [model(x) for model, x in zip(self.models, batches, strict=True)]
        )

    def train(self, mode: bool = True) -> None:
        """Training or evaluation mode (dropout, batch norm) for every copy."""
        for model in self.models:
            model.train(mode)

    def unstack(self) -> list[nn.Module]:
        """The N models as they are now, on the CPU, in evaluation mode."""
        return [
            copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).eval()
            for model in self.models
        ]
