"""Build models from a validated architecture config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from torch import nn

from pytorch_intro.models.classifiers import (
    ConvClassifier,
    LinearClassifier,
    MLPClassifier,
)
from pytorch_intro.validation import ConfigError, check_choice, check_int

# name -> (class, the config fields its constructor takes)
MODELS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "linear": (LinearClassifier, ("in_features", "out_features")),
    "mlp": (MLPClassifier, ("in_features", "hidden_sizes", "out_features")),
    "cnn": (ConvClassifier, ("in_channels", "channels", "kernel_size", "out_features")),
}
# Fields a model may leave empty: an MLP without hidden layers is a linear model.
_OPTIONAL = {"hidden_sizes"}


@dataclass
class ModelConfig:
    """An architecture: a registered model name and its constructor arguments.

    ``linear`` takes ``in_features`` and ``out_features``; ``mlp`` also
    ``hidden_sizes``; ``cnn`` takes ``in_channels``, ``channels`` (one width per
    convolution), ``kernel_size`` and ``out_features``.

    Raises:
        ConfigError: on an unknown name, a missing field, a field the model does
            not take, or a size that is not a positive integer.
    """

    name: str
    in_features: int | None = None
    out_features: int | None = None
    hidden_sizes: list[int] = field(default_factory=list)
    in_channels: int | None = None
    channels: list[int] = field(default_factory=list)
    kernel_size: int | None = None

    def __post_init__(self) -> None:
        check_choice("name", self.name, MODELS)
        takes = MODELS[self.name][1]
        for spec in fields(self):
            key = spec.name
            if key == "name":
                continue
            value = getattr(self, key)
            unset = value is None or value == []
            if key not in takes:
                if not unset:
                    raise ConfigError(
                        f"{key} is not used by model '{self.name}' "
                        f"(it takes: {', '.join(takes)})"
                    )
            elif unset and key not in _OPTIONAL:
                raise ConfigError(f"model '{self.name}' needs {key}")
            elif isinstance(value, list | tuple):
                setattr(
                    self,
                    key,
                    [
                        check_int(f"{key}[{i}]", v, minimum=1)
                        for i, v in enumerate(value)
                    ],
                )
            elif spec.type.startswith("list"):
                raise ConfigError(f"{key} must be a list of integers, got {value!r}")
            else:
                check_int(key, value, minimum=1)

    def to_dict(self) -> dict[str, Any]:
        """The fields the model takes, as plain Python values."""
        takes = MODELS[self.name][1]
        return {"name": self.name} | {
            key: value for key, value in asdict(self).items() if key in takes
        }


def build_model(config: ModelConfig) -> nn.Module:
    """Instantiate the model that ``config`` describes (weights freshly initialised)."""
    model_class, takes = MODELS[config.name]
    return model_class(**{key: getattr(config, key) for key in takes})


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
