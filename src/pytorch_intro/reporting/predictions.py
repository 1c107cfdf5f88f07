"""A model's predictions on a user's inputs: the table and the figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pytorch_intro.data.prediction_inputs import PredictionInputs
from pytorch_intro.reporting.figures import new_figure, plot_images, scatter_classes

COLUMNS = ["input", "predicted", "probability", "top3", "error"]


def prediction_table(
    inputs: PredictionInputs, probabilities: np.ndarray
) -> pd.DataFrame:
    """One row per input, in input order: the predicted class, its probability and
    the three most probable (``7 (0.98), 1 (0.01), 9 (0.00)``), or only the
    ``error`` of an input that could not be used; ``probabilities``: (N, classes),
    one row per usable input."""
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
    failed = {"predicted": None, "probability": np.nan, "top3": ""}
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
    """The first ``max_images`` 28x28 digits, each titled with its name and the
    prediction of ``predictions`` (a :func:`prediction_table`)."""
    shown = min(len(inputs.names), max_images)
    by_name = _by_name(predictions)
    titles = [
        f"{name if len(name) <= 14 else name[:6] + '…' + name[-7:]}\n"
        f"→ {int(by_name.loc[name, 'predicted'])} "
        f"({by_name.loc[name, 'probability']:.0%})"
        for name in inputs.names[:shown]
    ]
    return plot_images(
        inputs.samples[:shown], titles, _title(title, inputs, shown), columns, 7
    )


def plot_point_predictions(
    inputs: PredictionInputs, predictions: pd.DataFrame, title: str
) -> Figure:
    """The (x, y) points, coloured by their predicted class."""
    predicted = _by_name(predictions).loc[inputs.names, "predicted"].to_numpy(int)
    fig, ax = new_figure(6, 5.4)
    scatter_classes(ax, inputs.samples, predicted, s=8)
    ax.set(xlabel="x", ylabel="y", aspect="equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small", title="predicted")
    fig.suptitle(_title(title, inputs, len(inputs.names)))
    return fig


def _by_name(predictions: pd.DataFrame) -> pd.DataFrame:
    """The table indexed by input name (read back from a CSV, row numbers are ints)."""
    return predictions.set_index(predictions["input"].astype(str))


def _title(title: str, inputs: PredictionInputs, shown: int) -> str:
    total = len(inputs.names)
    counts = f"the first {shown} of " if shown < total else ""
    n_failed = len(inputs.failed)
    failed = f"; {n_failed} could not be used (see the CSV)" if n_failed else ""
    return f"{title}\n{counts}{total} inputs predicted{failed}"
