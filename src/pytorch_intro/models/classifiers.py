"""The assignment's classifiers. Every model returns logits."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class LinearClassifier(nn.Module):
    """A single linear layer: ``Linear(in_features, out_features)``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_features, out_features))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class MLPClassifier(nn.Module):
    """Linear layers with ReLU in between, the last one without activation."""

    def __init__(
        self, in_features: int, hidden_sizes: Sequence[int], out_features: int
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
