"""Build models from a validated architecture config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from pytorch_intro.models.classifiers import LinearClassifier, MLPClassifier
from pytorch_intro.validation import ConfigError, check_choice, check_int

# name -> (class, the config fields its constructor takes)
MODELS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "linear": (LinearClassifier, ("in_features", "out_features")),
    "mlp": (MLPClassifier, ("in_features", "hidden_sizes", "out_features")),
}


@dataclass
class ModelConfig:
    """An architecture: a registered model name and its constructor arguments.

    Raises:
        ConfigError: on an unknown name, a field the model does not take, or a
            size that is not a positive integer.
    """

    name: str
    in_features: int
    out_features: int
    hidden_sizes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_choice("name", self.name, MODELS)
        check_int("in_features", self.in_features, minimum=1)
        check_int("out_features", self.out_features, minimum=1)
        if not isinstance(self.hidden_sizes, list | tuple):
            raise ConfigError(
                f"hidden_sizes must be a list of integers, got {self.hidden_sizes!r}"
            )
        self.hidden_sizes = [
            check_int(f"hidden_sizes[{i}]", size, minimum=1)
            for i, size in enumerate(self.hidden_sizes)
        ]
        takes = MODELS[self.name][1]
        if self.hidden_sizes and "hidden_sizes" not in takes:
            raise ConfigError(
                f"hidden_sizes is not used by model '{self.name}' "
                f"(it takes: {', '.join(takes)})"
            )

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
