"""Training and evaluation of models on in-memory tensors."""

from pytorch_intro.training.config import TrainingConfig, check_device_available
from pytorch_intro.training.copies import ModelCopies
from pytorch_intro.training.evaluation import (
    Evaluation,
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
from pytorch_intro.training.objectives import Objective, objective_for
from pytorch_intro.training.runtime import intra_op_threads, resolve_device, seeded
from pytorch_intro.training.step import AdamState, TrainStep
from pytorch_intro.training.trainer import (
    EpochResult,
    TrainingRun,
    evaluate_copies,
    fit,
    learning_rate_schedule,
    train,
)

__all__ = [
    "AdamState",
    "Confusion",
    "EpochResult",
    "Evaluation",
    "ModelCopies",
    "Objective",
    "TrainStep",
    "TrainingConfig",
    "TrainingRun",
    "check_device_available",
    "confusion_matrix",
    "evaluate",
    "evaluate_copies",
    "fit",
    "intra_op_threads",
    "learning_rate_schedule",
    "most_confident_errors",
    "objective_for",
    "predict_logits",
    "resolve_device",
    "seeded",
    "to_tensors",
    "top_confusions",
    "train",
]
