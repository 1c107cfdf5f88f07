"""Figures built with matplotlib's object-oriented API (no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

CLASS_COLOURS = ("tab:blue", "tab:red")


def plot_learning_curves(history: Sequence[Mapping[str, float]], title: str) -> Figure:
    """Training/validation loss and validation accuracy per epoch.

    Args:
        history: one mapping per epoch with ``epoch``, ``train_loss``,
            ``val_loss`` and ``val_accuracy`` (a fraction).
        title: the figure title (e.g. the variant name).
    """
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [row["train_loss"] for row in history], "o-", label="train")
    loss_ax.plot(epochs, [row["val_loss"] for row in history], "s-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    loss_ax.legend()
    acc_ax.plot(
        epochs, [100 * row["val_accuracy"] for row in history], "s-", color="tab:green"
    )
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs if len(epochs) <= 15 else ax.get_xticks())
    fig.suptitle(title)
    return fig


def plot_decision_boundary(
    grid_points: np.ndarray,
    grid_shape: Sequence[int],
    probabilities: np.ndarray,
    points: np.ndarray,
    labels: np.ndarray,
    title: str,
) -> Figure:
    """Points coloured by class over the predicted probability of class 1.

    Everything is drawn in the x-y plane; a model working on other features
    (polar coordinates) is evaluated on the transformed grid and drawn here.

    Args:
        grid_points: (H*W, 2) x-y coordinates of a regular grid.
        grid_shape: (H, W) of the grid.
        probabilities: (H*W,) predicted probability of class 1 on the grid.
        points: (N, 2) x-y coordinates of the points to show.
        labels: (N,) their classes (0 or 1).
        title: the figure title.
    """
    shape = tuple(int(n) for n in grid_shape)
    xx = grid_points[:, 0].reshape(shape)
    yy = grid_points[:, 1].reshape(shape)
    prob = probabilities.reshape(shape)
    fig = Figure(figsize=(5.6, 5), layout="constrained")
    ax = fig.subplots()
    filled = ax.contourf(
        xx, yy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35
    )
    if prob.min() < 0.5 < prob.max():
        ax.contour(xx, yy, prob, levels=[0.5], colors="k", linewidths=1.5)
    for label, colour in enumerate(CLASS_COLOURS):
        mask = labels == label
        ax.scatter(
            *points[mask].T, s=8, c=colour, label=f"class {label}", edgecolors="none"
        )
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    ax.set(xlabel="x", ylabel="y", title=title, aspect="equal")
    ax.legend(loc="upper right", fontsize="small")
    return fig
