"""Training and evaluation of models on in-memory tensors."""

from pytorch_intro.training.config import TrainingConfig, check_device_available
from pytorch_intro.training.loop import (
    EpochResult,
    Evaluation,
    evaluate,
    fit,
    history_records,
    objective_for,
    predict_logits,
    to_tensors,
    train_one_epoch,
)
from pytorch_intro.training.runtime import intra_op_threads, resolve_device, seeded

__all__ = [
    "EpochResult",
    "Evaluation",
    "TrainingConfig",
    "check_device_available",
    "evaluate",
    "fit",
    "history_records",
    "intra_op_threads",
    "objective_for",
    "predict_logits",
    "resolve_device",
    "seeded",
    "to_tensors",
    "train_one_epoch",
]
