"""Training and evaluation of models on in-memory tensors."""

from pytorch_intro.training.config import TrainingConfig
from pytorch_intro.training.evaluation import (
    DeadUnits,
    Evaluation,
    dead_units_of,
    evaluate,
    predict_logits,
    to_tensors,
)
from pytorch_intro.training.metrics import (
    Confusion,
    confusion_matrix,
    most_confident_errors,
    top_confusions,
)
from pytorch_intro.training.objectives import (
    class_probabilities,
    classification_loss,
    num_classes_for,
    predict_classes,
)
from pytorch_intro.training.runtime import intra_op_threads, resolve_device, seeded
from pytorch_intro.training.step import TrainStep
from pytorch_intro.training.trainer import (
    EpochResult,
    TrainingRun,
    fit,
    learning_rate_schedule,
    train,
)

__all__ = [
    "Confusion",
    "DeadUnits",
    "EpochResult",
    "Evaluation",
    "TrainStep",
    "TrainingConfig",
    "TrainingRun",
    "class_probabilities",
    "classification_loss",
    "confusion_matrix",
    "dead_units_of",
    "evaluate",
    "fit",
    "intra_op_threads",
    "learning_rate_schedule",
    "most_confident_errors",
    "num_classes_for",
    "predict_classes",
    "predict_logits",
    "resolve_device",
    "seeded",
    "to_tensors",
    "top_confusions",
    "train",
]
