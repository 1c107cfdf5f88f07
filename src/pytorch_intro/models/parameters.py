"""Parameter counts derived by formula, layer by layer, and checked against torch.

The assignment's formulas (section 3.5): a fully connected layer has
``F_in x F_out`` weights and ``F_out`` biases; a convolution has ``K^2 x C x N``
weights and ``N`` biases (kernel width K, C input channels, N kernels); ReLU and
pooling layers have none.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from pytorch_intro.models.registry import count_parameters

# Layers that hold no parameters at all (they may have hyperparameters).
PARAMETER_FREE = (
    nn.ReLU,
    nn.MaxPool2d,
    nn.AdaptiveMaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
)


@dataclass(frozen=True)
class LayerCount:
    """One layer's parameters as the formula gives them."""

    layer: str
    kind: str
    formula: str
    weights: int
    biases: int

    @property
    def params(self) -> int:
        return self.weights + self.biases


def _linear(name: str, layer: nn.Linear) -> LayerCount:
    f_in, f_out = layer.in_features, layer.out_features
    biases = f_out if layer.bias is not None else 0
    formula = f"F_in x F_out + F_out = {f_in} x {f_out} + {biases}"
    return LayerCount(name, f"Linear({f_in}, {f_out})", formula, f_in * f_out, biases)


def _conv(name: str, layer: nn.Conv2d) -> LayerCount:
    kh, kw = layer.kernel_size
    c = layer.in_channels // layer.groups
    n = layer.out_channels
    biases = n if layer.bias is not None else 0
    kernel = f"{kh}^2" if kh == kw else f"{kh} x {kw}"
    formula = f"K^2 x C x N + N = {kernel} x {c} x {n} + {biases}"
    kind = f"Conv2d({layer.in_channels}, {n}, {kh})"
    return LayerCount(name, kind, formula, kh * kw * c * n, biases)


def parameter_table(model: nn.Module) -> list[LayerCount]:
    """Every leaf layer of ``model`` with its parameter count by formula.

    Raises:
        ValueError: if a layer holding parameters has no formula here, or if the
            formulas' total differs from the model's own count.
    """
    rows = []
    for name, layer in model.named_modules():
        if any(True for _ in layer.children()):
            continue  # containers: their leaves are counted
        if isinstance(layer, nn.Linear):
            rows.append(_linear(name, layer))
        elif isinstance(layer, nn.Conv2d):
            rows.append(_conv(name, layer))
        elif isinstance(layer, PARAMETER_FREE) or not any(
            True for _ in layer.parameters()
        ):
            rows.append(LayerCount(name, type(layer).__name__, "no parameters", 0, 0))
        else:
            raise ValueError(
                f"layer {name} ({type(layer).__name__}) has parameters but no "
                "formula here"
            )
    total, actual = sum(row.params for row in rows), count_parameters(model)
    if total != actual:
        raise ValueError(
            f"the formulas give {total} parameters but the model has {actual}"
        )
    return rows
