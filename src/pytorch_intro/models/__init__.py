"""Model definitions, the registry that builds them, and checkpoints."""

from pytorch_intro.models.checkpoint import (
    Checkpoint,
    load_checkpoint,
    make_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from pytorch_intro.models.classifiers import LinearClassifier, MLPClassifier
from pytorch_intro.models.registry import (
    MODELS,
    ModelConfig,
    build_model,
    count_parameters,
)

__all__ = [
    "MODELS",
    "Checkpoint",
    "LinearClassifier",
    "MLPClassifier",
    "ModelConfig",
    "build_model",
    "count_parameters",
    "load_checkpoint",
    "make_checkpoint",
    "model_from_checkpoint",
    "save_checkpoint",
]
