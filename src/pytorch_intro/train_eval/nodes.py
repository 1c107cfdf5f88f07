"""Nodes of the shared train -> evaluate -> track template."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from pytorch_intro.models import (
    Checkpoint,
    ModelConfig,
    count_parameters,
    make_checkpoint,
    model_from_checkpoint,
    parameter_table,
)
from pytorch_intro.reporting import plot_confusion_matrix as _plot_confusion_matrix
from pytorch_intro.reporting import plot_learning_curves as _plot_learning_curves
from pytorch_intro.reporting.results import VariantResults
from pytorch_intro.training import (
    TrainingConfig,
    confusion_matrix,
    evaluate,
    to_tensors,
    top_confusions,
    train,
)
from pytorch_intro.validation import ConfigError

LabelledSet = dict[str, Any]
TOP_CONFUSIONS = 5  # largest off-diagonal cells reported per variant


def resolve_training(
    training: TrainingConfig, variant: dict[str, Any]
) -> TrainingConfig:
    """The problem's shared training settings with the variant's own ``training``
    overrides (if any) on top, e.g. more epochs for one model."""
    training = TrainingConfig.model_validate(training)
    try:
        return training.with_overrides(variant.get("training") or {})
    except ConfigError as error:
        raise ConfigError(f"the variant's training overrides: {error}") from None


def train_model(
    train_set: LabelledSet,
    valid_set: LabelledSet,
    model: ModelConfig,
    training: TrainingConfig,
) -> tuple[Checkpoint, pd.DataFrame, dict[str, Any]]:
    """Train a freshly seeded model; return its checkpoint, per-epoch history
    and how the training step ran (compiled or eager, compile seconds).

    With ``training.seeds > 1`` that many seeds train together; the history
    then also holds the mean and standard deviation of their accuracy.
    """
    model, training = (
        ModelConfig.model_validate(model),
        TrainingConfig.model_validate(training),
    )
    run = train(
        model,
        to_tensors(train_set["samples"], train_set["annotations"]),
        to_tensors(valid_set["samples"], valid_set["annotations"]),
        training,
    )
    step = {
        "compile": training.compile,
        "step": run.step,
        "compile_seconds": round(run.compile_seconds, 2),
    }
    return make_checkpoint(run.model, model), pd.DataFrame(run.history()), step


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


def count_parameters_by_layer(model: Checkpoint) -> pd.DataFrame:
    """Each layer's parameters by formula; the total is checked against the model."""
    rows = parameter_table(model_from_checkpoint(model))
    return pd.DataFrame(
        {
            "layer": [row.layer for row in rows],
            "kind": [row.kind for row in rows],
            "formula": [row.formula for row in rows],
            "weights": [row.weights for row in rows],
            "biases": [row.biases for row in rows],
            "params": [row.params for row in rows],
        }
    )


def compute_confusion_matrix(
    predictions: pd.DataFrame, model: Checkpoint
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The confusion matrix (rows: true class, columns: predicted) and its top errors."""
    outputs = model["architecture"]["out_features"]
    num_classes = 2 if outputs == 1 else outputs
    matrix = confusion_matrix(
        predictions["annotation"].to_numpy(),
        predictions["prediction"].to_numpy(),
        num_classes,
    )
    table = pd.DataFrame(matrix, columns=[f"predicted_{k}" for k in range(num_classes)])
    table.insert(0, "true_class", range(num_classes))
    confusions = [
        {"true": c.true, "predicted": c.predicted, "count": c.count, "text": str(c)}
        for c in top_confusions(matrix, k=TOP_CONFUSIONS)
    ]
    return table, confusions


def plot_confusion_matrix(confusion: pd.DataFrame, title: str) -> Figure:
    """Annotated heatmap of the confusion matrix."""
    matrix = confusion.drop(columns="true_class").to_numpy()
    names = [str(k) for k in confusion["true_class"]]
    return _plot_confusion_matrix(matrix, title, names)


def summarize_run(
    model: Checkpoint,
    training: TrainingConfig,
    title: str,
    train_set: LabelledSet,
    parameter_counts: pd.DataFrame,
    confusions: list[dict[str, Any]],
    training_step: dict[str, Any],
) -> dict[str, Any]:
    """The run's parameters, as recorded for comparison (MLflow params, report)."""
    training = TrainingConfig.model_validate(training)
    return training_step | {
        "title": title,
        "architecture": json.dumps(model["architecture"], separators=(",", ":")),
        "n_params": int(parameter_counts["params"].sum()),
        "epochs": training.epochs,
        "batch_size": training.batch_size,
        "lr": training.lr,
        "seed": training.seed,
        "seeds": training.seeds,
        "device": training.device,
        "n_train": len(train_set["annotations"]),
        "data_source": str(train_set.get("source", "in memory")),
        "top_confusions": "; ".join(c["text"] for c in confusions) or "none",
    }


def collect_variant_results(
    summary: dict[str, Any],
    metrics: dict[str, float],
    history: pd.DataFrame,
    parameter_counts: pd.DataFrame,
    model: Checkpoint,
    confusion_matrix: pd.DataFrame,
    top_confusions: list[dict[str, Any]],
    **figures: bytes,
) -> VariantResults:
    """The variant's numbers and figures (PNG bytes), as the report reads them."""
    return VariantResults(
        summary=summary,
        metrics=metrics,
        history=history.to_dict("records"),
        parameter_counts=parameter_counts.to_dict("records"),
        n_params_model=count_parameters(model_from_checkpoint(model)),
        confusion_matrix=confusion_matrix.drop(columns="true_class")
        .to_numpy()
        .tolist(),
        top_confusions=top_confusions,
        figures=figures,
    )
