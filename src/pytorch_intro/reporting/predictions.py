"""A model's predictions on a user's inputs: the table and the figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from pytorch_intro.data.prediction_inputs import PredictionInputs
from pytorch_intro.reporting.figures import CLASS_COLOURS

COLUMNS = ["input", "predicted", "probability", "top3", "error"]


def prediction_table(
    inputs: PredictionInputs, probabilities: np.ndarray
) -> pd.DataFrame:
    """One row per input, in input order: the predicted class, its probability
    and the three most probable classes (``7 (0.98), 1 (0.01), 9 (0.00)``);
    an input that could not be used has only its ``error``.

    Args:
        inputs: what was predicted (``inputs.names``) and what failed.
        probabilities: (N, classes), one row per usable input.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape[0] != len(inputs.names):
        raise ValueError(
            f"{probabilities.shape[0]} rows of probabilities for {len(inputs.names)} inputs"
        )
    ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :3]
    rows = {
        name: {
            "predicted": int(top[0]),
            "probability": round(float(p[top[0]]), 4),
            "top3": ", ".join(f"{c} ({p[c]:.2f})" for c in top),
            "error": "",
        }
        for name, p, top in zip(inputs.names, probabilities, ranked, strict=True)
    }
    failed = {"predicted": None, "probability": np.nan, "top3": "", "error": ""}
    table = pd.DataFrame(
        [
            {"input": name}
            | rows.get(name, failed | {"error": inputs.failed.get(name, "")})
            for name in inputs.order
        ],
        columns=COLUMNS,
    )
    table["predicted"] = table["predicted"].astype("Int64")
    return table


def plot_digit_predictions(
    inputs: PredictionInputs,
    predictions: pd.DataFrame,
    title: str,
    max_images: int = 100,
    columns: int = 10,
) -> Figure:
    """The converted 28x28 images, each titled with its name and prediction.

    Args:
        inputs: the digits (``inputs.samples``, named ``inputs.names``).
        predictions: the :func:`prediction_table` of ``inputs``.
        title: the figure title.
        max_images: show at most this many (the first ones).
        columns: images per row at most.
    """
    shown = min(len(inputs.names), max_images)
    by_name = _by_name(predictions)
    columns = min(columns, shown)
    rows = math.ceil(shown / columns)
    fig = Figure(figsize=(1.3 * columns, 1.45 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, name, image in zip(
        axes, inputs.names, inputs.samples[:shown], strict=False
    ):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        row = by_name.loc[name]
        label = name if len(name) <= 14 else name[:6] + "…" + name[-7:]
        ax.set_title(
            f"{label}\n→ {int(row['predicted'])} ({row['probability']:.0%})",
            fontsize=7,
        )
    fig.suptitle(_title(title, inputs, shown))
    return fig


def plot_point_predictions(
    inputs: PredictionInputs, predictions: pd.DataFrame, title: str
) -> Figure:
    """The (x, y) points, coloured by their predicted class."""
    predicted = _by_name(predictions).loc[inputs.names, "predicted"].to_numpy(int)
    classes = sorted({int(c) for c in predicted})
    colours = (
        CLASS_COLOURS
        if max(classes) < len(CLASS_COLOURS)
        else colormaps["tab10"].colors
    )
    fig = Figure(figsize=(6, 5.4), layout="constrained")
    ax = fig.subplots()
    for label in classes:
        mask = predicted == label
        ax.scatter(
            *inputs.samples[mask].T, s=8, c=colours[label], label=f"class {label}"
        )
    ax.set(xlabel="x", ylabel="y", aspect="equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small", title="predicted")
    fig.suptitle(_title(title, inputs, len(inputs.names)))
    return fig


def _by_name(predictions: pd.DataFrame) -> pd.DataFrame:
    """The table indexed by input name (read back from a CSV, row numbers are ints)."""
    return predictions.set_index(predictions["input"].astype(str))


def _title(title: str, inputs: PredictionInputs, shown: int) -> str:
    predicted = len(inputs.names)
    counts = (
        f"{predicted} inputs predicted"
        if shown == predicted
        else f"the first {shown} of {predicted} inputs predicted"
    )
    failed = (
        f"; {len(inputs.failed)} could not be used (see the CSV)"
        if inputs.failed
        else ""
    )
    return f"{title}\n{counts}{failed}"
