"""Nodes of the shared train -> evaluate -> track template."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pandas as pd

from pytorch_intro.models import (
    Checkpoint,
    ModelConfig,
    count_parameters,
    make_checkpoint,
    model_from_checkpoint,
    parameter_table,
)
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.reporting.results import ProblemResults, VariantResults, combine_runs
from pytorch_intro.reporting.sections import registry
from pytorch_intro.serving import Servable, export_servable
from pytorch_intro.training import (
    TrainingConfig,
    confusion_matrix,
    dead_units_of,
    evaluate,
    num_classes_for,
    to_tensors,
    top_confusions,
    train,
)

LabelledSet = dict[str, Any]
TOP_CONFUSIONS = 5  # largest off-diagonal cells reported per variant


def resolve_training(
    training: TrainingConfig, variant: dict[str, Any]
) -> TrainingConfig:
    """The problem's shared training settings with the variant's own ``training``
    overrides (if any) on top, e.g. more epochs for one model.

    Kedro gives ``training`` validated; a mapping (a notebook, a test) is
    validated here.
    """
    training = TrainingConfig.model_validate(training)
    try:
        return training.with_overrides(variant.get("training") or {})
    except ValueError as error:  # pydantic's ValidationError names the key
        error.add_note("in the variant's training overrides")
        raise


def preprocess_inputs(
    train_set: LabelledSet, valid_set: LabelledSet, *, features: str
) -> tuple[LabelledSet, LabelledSet]:
    """The raw sets as the model sees them (``features``: see ``preprocessing``)."""
    return tuple(
        dict(data) | {"samples": preprocess(features, data["samples"])}
        for data in (train_set, valid_set)
    )


def package_model(
    model: Checkpoint, valid_set: LabelledSet, *, features: str, kind: str
) -> Servable:
    """The trained model as users call it: raw inputs in, class probabilities out
    (its preprocessing inside), exported; ``valid_set`` is the raw evaluation set."""
    return export_servable(
        model_from_checkpoint(model), features, valid_set["samples"], kind
    )


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
    model = ModelConfig.model_validate(model)
    run = train(
        model,
        to_tensors(train_set["samples"], train_set["annotations"]),
        to_tensors(valid_set["samples"], valid_set["annotations"]),
        training,
    )
    step = {"step": run.step, "compile_seconds": round(run.compile_seconds, 2)}
    return make_checkpoint(run.model, model), pd.DataFrame(run.history()), step


def evaluate_model(
    model: Checkpoint, valid_set: LabelledSet, history: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, float], pd.DataFrame]:
    """Per-sample predictions (with the predicted class's probability), the final
    validation metrics of a trained model, and its dead ReLU units as a row at
    the ``history``'s last epoch (where MLflow records a metric)."""
    net = model_from_checkpoint(model)
    inputs, labels = to_tensors(valid_set["samples"], valid_set["annotations"])
    with dead_units_of(net) as dead_units:  # counted in the same forward pass
        result = evaluate(net, inputs, labels)
    predictions = pd.DataFrame(
        {
            "annotation": labels.numpy(),
            "prediction": result.predictions.numpy(),
            "probability": result.probabilities.max(dim=1).values.numpy(),
        }
    )
    units = dead_units()
    dead = {"dead_relu_units": units.dead, "relu_units": units.total} if units else {}
    metrics = {
        "val_loss": result.loss,
        "val_accuracy": result.accuracy,
        "n_samples": len(labels),
    }
    last_epoch = {"epoch": int(history["epoch"].iloc[-1])} | dead
    return predictions, metrics | dead, pd.DataFrame([last_epoch])


def count_parameters_by_layer(model: Checkpoint) -> pd.DataFrame:
    """Each layer's parameters by formula; the total is checked against the model."""
    rows = parameter_table(model_from_checkpoint(model))
    return pd.DataFrame([vars(row) | {"params": row.params} for row in rows])


def compute_confusion_matrix(
    predictions: pd.DataFrame, model: Checkpoint
) -> tuple[list[list[int]], list[dict[str, Any]]]:
    """The confusion matrix (rows: true class, columns: predicted) and its top errors."""
    outputs = model["architecture"]["out_features"]
    matrix = confusion_matrix(
        predictions["annotation"].to_numpy(),
        predictions["prediction"].to_numpy(),
        num_classes_for(outputs),
    )
    confusions = [
        {"true": c.true, "predicted": c.predicted, "count": c.count, "text": str(c)}
        for c in top_confusions(matrix, k=TOP_CONFUSIONS)
    ]
    return matrix.tolist(), confusions


def collect_variant_results(
    title: str,
    model: ModelConfig,
    training: TrainingConfig,
    train_set: LabelledSet,
    training_step: dict[str, Any],
    checkpoint: Checkpoint,
    metrics: dict[str, float],
    history: pd.DataFrame,
    parameter_counts: pd.DataFrame,
    confusion_matrix: list[list[int]],
    top_confusions: list[dict[str, Any]],
    *,
    features: str,
) -> VariantResults:
    """The variant's record: settings and numbers, as the MLflow params, the
    report and the problem's results read it (which add its figures)."""
    return VariantResults(
        title=title,
        features=features,
        model=model,
        training=training,
        n_train=len(train_set["annotations"]),
        data_source=str(train_set.get("source", "in memory")),
        **training_step,
        metrics=metrics,
        history=history.to_dict("records"),
        parameter_counts=parameter_counts.to_dict("records"),
        n_params_model=count_parameters(model_from_checkpoint(checkpoint)),
        confusion_matrix=confusion_matrix,
        top_confusions=top_confusions,
    )


def collect_results(
    identity: dict[str, Any],
    data: dict[str, Any],
    earlier: ProblemResults | None,
    *,
    problem: str,
    known: Collection[str],
    figures: Collection[str] = (),
    variant_figures: Collection[str] = (),
    **inputs: Any,
) -> ProblemResults:
    """A problem's results for the report: its ``data``, the ``figures`` among
    ``inputs`` (PNG files) and this run's variants: the other ``inputs``, each
    a record with its ``variant_figures`` (``<variant>.<figure>``: PNG files).

    The ``known`` variants this run did not train are kept from the ``earlier``
    results (the latest saved), each with its own run, data and features.
    """
    shown = {name: inputs.pop(name) for name in figures}
    drawn = {key: inputs.pop(key) for key in list(inputs) if "." in key}
    variants = {
        name: record.model_copy(
            update={
                "figures": record.figures
                | {figure: drawn[f"{name}.{figure}"] for figure in variant_figures}
            }
        )
        for name, record in inputs.items()
    }
    results = registry()[problem](
        identity=identity, data=data, variants=variants, figures=shown
    )
    return combine_runs(results, earlier, known)
