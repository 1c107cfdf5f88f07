"""Training and evaluation of models on in-memory tensors."""

from pytorch_intro.training.config import TrainingConfig, check_device_available
from pytorch_intro.training.loop import (
    Adam,
    EpochResult,
    Evaluation,
    evaluate,
    fit,
    history_records,
    objective_for,
    one_cycle,
    predict_logits,
    to_tensors,
    train_one_epoch,
)
from pytorch_intro.training.metrics import (
    Confusion,
    confusion_matrix,
    most_confident_errors,
    top_confusions,
)
from pytorch_intro.training.runtime import intra_op_threads, resolve_device, seeded

__all__ = [
    "Adam",
    "Confusion",
    "EpochResult",
    "Evaluation",
    "TrainingConfig",
    "check_device_available",
    "confusion_matrix",
    "evaluate",
    "fit",
    "history_records",
    "intra_op_threads",
    "most_confident_errors",
    "objective_for",
    "one_cycle",
    "predict_logits",
    "resolve_device",
    "seeded",
    "to_tensors",
    "top_confusions",
    "train_one_epoch",
]
