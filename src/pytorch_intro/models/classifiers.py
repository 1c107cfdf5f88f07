"""The assignment's classifiers. Every model returns logits."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class LinearClassifier(nn.Module):
    """A single linear layer: ``Linear(in_features, out_features)``.

    Inputs of any shape ``(N, ...)`` are flattened to ``(N, in_features)``, so the
    same model takes 2D points and 28x28 images.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_features, out_features))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x.flatten(1))


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
        return self.layers(x.flatten(1))


class ConvClassifier(nn.Module):
    """The assignment's small CNN.

    ``Conv2d(C_in, c1, k)``, ReLU, ``MaxPool2d(2, 2)`` for every width in
    ``channels`` but the last, whose block ends with ``AdaptiveMaxPool2d(1)``
    instead, then ``Linear(c_last, out_features)``. With ``channels=[8, 16, 32]``
    and ``kernel_size=3`` this is the assignment's ``ConvClassifier`` (6,218
    parameters), down to its state-dict keys.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        kernel_size: int,
        out_features: int,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for i, out_channels in enumerate(channels):
            last = i == len(channels) - 1
            layers += [
                nn.Conv2d(width, out_channels, kernel_size),
                nn.ReLU(),
                nn.AdaptiveMaxPool2d(1) if last else nn.MaxPool2d(2, stride=2),
            ]
            width = out_channels
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(width, out_features))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 3:  # (N, H, W): a single channel
            x = x.unsqueeze(1)
        return self.classifier(self.layers(x).flatten(1))
