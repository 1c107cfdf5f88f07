"""Build models from a validated architecture config."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from torch import nn

from pytorch_intro.models.classifiers import (
    ConvClassifier,
    LinearClassifier,
    MLPClassifier,
)
from pytorch_intro.validation import Config

# name -> (class, the config fields its constructor takes)
MODELS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "linear": (LinearClassifier, ("in_features", "out_features")),
    "mlp": (MLPClassifier, ("in_features", "hidden_sizes", "out_features")),
    "cnn": (ConvClassifier, ("in_channels", "channels", "kernel_size", "out_features")),
}
# Fields a model may leave empty: an MLP without hidden layers is a linear model.
OPTIONAL = {"hidden_sizes"}

Size = Annotated[int, Field(ge=1)]


class ModelConfig(Config):
    """An architecture: a registered model name and its constructor arguments.

    ``linear`` takes ``in_features`` and ``out_features``; ``mlp`` also
    ``hidden_sizes``; ``cnn`` takes ``in_channels``, ``channels`` (one width per
    convolution), ``kernel_size`` and ``out_features``.

    Raises:
        pydantic.ValidationError: on an unknown name, a missing field, a field
            the model does not take, or a size that is not a positive integer.
    """

    name: Literal["linear", "mlp", "cnn"]
    in_features: Size | None = None
    out_features: Size | None = None
    hidden_sizes: list[Size] = []
    in_channels: Size | None = None
    channels: list[Size] = []
    kernel_size: Size | None = None

    @model_validator(mode="after")
    def _fields_of_the_model(self) -> ModelConfig:
        takes = MODELS[self.name][1]
        for key in type(self).model_fields:
            unset = getattr(self, key) in (None, [])
            if key != "name" and key not in takes and not unset:
                raise ValueError(
                    f"{key} is not used by model '{self.name}' "
                    f"(it takes: {', '.join(takes)})"
                )
            if key in takes and unset and key not in OPTIONAL:
                raise ValueError(f"model '{self.name}' needs {key}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The fields the model takes, as plain Python values."""
        return self.model_dump(include={"name", *MODELS[self.name][1]})


def build_model(config: ModelConfig) -> nn.Module:
    """Instantiate the model that ``config`` describes (weights freshly initialised)."""
    model_class, takes = MODELS[config.name]
    return model_class(**{key: getattr(config, key) for key in takes})


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
