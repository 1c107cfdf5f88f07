"""Model definitions, the registry that builds them, and checkpoints."""

from pytorch_intro.models.checkpoint import (
    Checkpoint,
    load_checkpoint,
    make_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from pytorch_intro.models.classifiers import (
    ConvClassifier,
    LinearClassifier,
    MLPClassifier,
)
from pytorch_intro.models.parameters import LayerCount, parameter_table
from pytorch_intro.models.registry import (
    MODELS,
    ModelConfig,
    build_model,
    count_parameters,
)

__all__ = [
    "MODELS",
    "Checkpoint",
    "ConvClassifier",
    "LayerCount",
    "LinearClassifier",
    "MLPClassifier",
    "ModelConfig",
    "build_model",
    "count_parameters",
    "load_checkpoint",
    "make_checkpoint",
    "model_from_checkpoint",
    "parameter_table",
    "save_checkpoint",
]
