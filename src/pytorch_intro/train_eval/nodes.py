"""Nodes of the shared train -> evaluate -> track template."""

from __future__ import annotations

import json
from dataclasses import fields, replace
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
    parameter_table,
)
from pytorch_intro.reporting import plot_confusion_matrix as _plot_confusion_matrix
from pytorch_intro.reporting import plot_learning_curves as _plot_learning_curves
from pytorch_intro.reporting.report import Results, variant_results
from pytorch_intro.training import (
    TrainingConfig,
    confusion_matrix,
    evaluate,
    fit,
    history_records,
    seeded,
    to_tensors,
    top_confusions,
)
from pytorch_intro.training.seeds import fit_seeds
from pytorch_intro.validation import ConfigError, as_config

LabelledSet = dict[str, Any]
TOP_CONFUSIONS = 5  # largest off-diagonal cells reported per variant


def resolve_training(
    training: TrainingConfig, variant: dict[str, Any]
) -> TrainingConfig:
    """The problem's shared training settings with the variant's own ``training``
    overrides (if any) on top, e.g. more epochs for one model."""
    training = as_config(TrainingConfig, training)
    overrides = dict(variant.get("training") or {})
    allowed = {f.name for f in fields(TrainingConfig)}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ConfigError(
            f"training: unknown key(s) {', '.join(unknown)} in the variant's "
            f"overrides; allowed: {', '.join(sorted(allowed))}"
        )
    return replace(training, **overrides)


def train_model(
    train_set: LabelledSet,
    valid_set: LabelledSet,
    model: ModelConfig,
    training: TrainingConfig,
) -> tuple[Checkpoint, pd.DataFrame]:
    """Train a freshly seeded model; return its checkpoint and per-epoch history.

    With ``training.seeds > 1`` that many seeds train together; the history
    then also holds the mean and standard deviation of their accuracy.
    """
    model, training = as_config(ModelConfig, model), as_config(TrainingConfig, training)
    seeds = [training.seed + k for k in range(training.seeds)]
    nets = []
    for seed in seeds:
        with seeded(seed):
            nets.append(build_model(model))
    train = to_tensors(train_set["samples"], train_set["annotations"])
    valid = to_tensors(valid_set["samples"], valid_set["annotations"])
    if len(seeds) == 1:
        histories = [fit(nets[0], train, valid, training, name=model.name)]
    else:
        nets, histories = fit_seeds(nets, seeds, train, valid, training, model.name)
    history = pd.DataFrame(history_records(histories[0]))
    if len(seeds) > 1:
        accuracy = pd.DataFrame([[r.val_accuracy for r in h] for h in histories])
        history["val_accuracy_mean"] = accuracy.mean().to_numpy()
        history["val_accuracy_std"] = accuracy.std().to_numpy()
    return make_checkpoint(nets[0], model), history


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
) -> dict[str, Any]:
    """The run's parameters, as recorded for comparison (MLflow params, report)."""
    training = as_config(TrainingConfig, training)
    return {
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
) -> Results:
    """The variant's numbers and figures (PNG bytes), as the report reads them."""
    return variant_results(
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
