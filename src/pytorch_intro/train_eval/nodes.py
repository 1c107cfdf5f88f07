"""Nodes of the shared train -> evaluate -> track template."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from pytorch_intro.models import (
    Checkpoint,
    ModelConfig,
    build_model,
    count_parameters,
    make_checkpoint,
    model_from_checkpoint,
)
from pytorch_intro.reporting import plot_learning_curves as _plot_learning_curves
from pytorch_intro.training import (
    TrainingConfig,
    evaluate,
    fit,
    history_records,
    seeded,
    to_tensors,
)
from pytorch_intro.validation import as_config

LabelledSet = dict[str, Any]


def train_model(
    train_set: LabelledSet,
    valid_set: LabelledSet,
    model: ModelConfig,
    training: TrainingConfig,
) -> tuple[Checkpoint, pd.DataFrame]:
    """Train a freshly seeded model; return its checkpoint and per-epoch history."""
    model, training = as_config(ModelConfig, model), as_config(TrainingConfig, training)
    with seeded(training.seed):
        net = build_model(model)
    history = fit(
        net,
        to_tensors(train_set["samples"], train_set["annotations"]),
        to_tensors(valid_set["samples"], valid_set["annotations"]),
        training,
        name=model.name,
    )
    return make_checkpoint(net, model), pd.DataFrame(history_records(history))


def evaluate_model(
    model: Checkpoint, valid_set: LabelledSet
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-sample predictions and the final validation metrics of a trained model."""
    net = model_from_checkpoint(model)
    inputs, labels = to_tensors(valid_set["samples"], valid_set["annotations"])
    result = evaluate(net, inputs, labels)
    predictions = pd.DataFrame(
        {
            "annotation": labels.numpy(),
            "prediction": result.predictions.numpy(),
            "probability": result.probabilities.numpy(),
        }
    )
    metrics = {
        "val_loss": result.loss,
        "val_accuracy": result.accuracy,
        "n_samples": len(labels),
    }
    return predictions, metrics


def plot_learning_curves(history: pd.DataFrame, title: str) -> Figure:
    """Loss and accuracy per epoch."""
    return _plot_learning_curves(history.to_dict("records"), title)


def summarize_run(
    model: Checkpoint,
    training: TrainingConfig,
    title: str,
    train_set: LabelledSet,
) -> dict[str, Any]:
    """The run's parameters, as recorded for comparison (MLflow params, report)."""
    training = as_config(TrainingConfig, training)
    return {
        "title": title,
        "architecture": json.dumps(model["architecture"], separators=(",", ":")),
        "n_params": count_parameters(model_from_checkpoint(model)),
        "epochs": training.epochs,
        "batch_size": training.batch_size,
        "lr": training.lr,
        "seed": training.seed,
        "device": training.device,
        "n_train": len(train_set["annotations"]),
        "data_source": str(train_set.get("source", "in memory")),
    }
