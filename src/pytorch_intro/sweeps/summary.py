"""A sweep's summary: one row per point, and accuracy against each swept value."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_sweep(table: pd.DataFrame, swept: Sequence[str]) -> Figure:
    """Final validation accuracy against each swept key but the seed (``swept``), a
    panel each, a line per pipeline: the mean over seeds, their std as error bars."""
    done = table[table["status"].isin(["FINISHED", "SKIPPED"])]
    keys = list(swept) or ["pipeline"]
    fig = Figure(figsize=(5 * len(keys), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for ax, key in zip(axes, keys, strict=True):
        numeric = pd.api.types.is_numeric_dtype(done[key])
        for pipeline, rows in done.groupby("pipeline"):
            stats = rows.groupby(key)["val_accuracy"].agg(["mean", "std"])
            ax.errorbar(
                stats.index.astype(float if numeric else str),  # str: categories
                100 * stats["mean"],
                yerr=100 * stats["std"].fillna(0),
                marker="o",
                capsize=3,
                label=str(pipeline),
            )
        values = done[key].astype(float) if numeric else None
        if numeric and values.min() > 0 and values.max() / values.min() >= 10:
            ax.set_xscale("log")
        ax.set(xlabel=key, ylabel="final validation accuracy (%)", title=key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    seeds = table.filter(like=".training.seed").nunique().max()
    extra = f"\nmean ± std over {seeds} seeds" if seeds > 1 else ""
    fig.suptitle(f"Accuracy against each swept value{extra}", fontsize="medium")
    return fig


def optuna_plots(study: Any) -> dict[str, Figure]:
    """Optuna's optimisation history and parallel coordinates of a search."""
    import optuna  # noqa: PLC0415 - sweeps with a search only
    from optuna.visualization import matplotlib as plots  # noqa: PLC0415

    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return {}
    with warnings.catch_warnings():  # optuna 5.0 marks its matplotlib plots so
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        figures = {"history": plots.plot_optimization_history(study).figure}
        if len({name for trial in complete for name in trial.params}) > 1:
            # (one parameter: nothing to draw between axes)
            figures["parallel_coordinate"] = plots.plot_parallel_coordinate(
                study
            ).figure
    for figure in figures.values():  # (a constrained layout breaks Optuna's axes)
        figure.set_size_inches(8, 5)
    return figures
