"""Figures built with matplotlib's object-oriented API (no pyplot state)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

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


def plot_confusion_matrix(
    matrix: np.ndarray, title: str, class_names: Sequence[str] | None = None
) -> Figure:
    """Confusion matrix as a heatmap with every count written in its cell.

    The colour scale is logarithmic so that a few dozen errors stay visible
    beside a diagonal of about a thousand; zero cells take the lowest colour.

    Args:
        matrix: (C, C) counts, rows true classes, columns predicted classes.
        title: the figure title.
        class_names: tick labels for the C classes (default ``0..C-1``).
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"matrix must be square, got shape {counts.shape}")
    size = counts.shape[0]
    names = [str(i) for i in range(size)] if class_names is None else class_names
    if len(names) != size:
        raise ValueError(f"{len(names)} class_names for a {size}x{size} matrix")
    cmap = colormaps["Blues"]
    # clip=True maps zero cells to vmin instead of masking log(0)
    norm = LogNorm(vmin=1, vmax=max(int(counts.max()), 10), clip=True)
    side = min(max(3.2, 0.55 * size + 1.6), 12)
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(counts, cmap=cmap, norm=norm)
    fontsize = 11 if size <= 5 else 8 if size <= 15 else 6
    for (row, col), count in np.ndenumerate(counts):
        red, green, blue, _ = cmap(norm(count))
        luminance = 0.299 * red + 0.587 * green + 0.114 * blue
        # zeros in dark grey so the eye goes to the cells that hold errors
        colour = "0.45" if count == 0 else "white" if luminance < 0.5 else "black"
        ax.text(
            col,
            row,
            f"{int(count)}",
            ha="center",
            va="center",
            fontsize=fontsize,
            color=colour,
        )
    ticks = np.arange(size)
    ax.set_xticks(ticks, labels=names)
    ax.set_yticks(ticks, labels=names)
    ax.set(xlabel="predicted class (column)", ylabel="true class (row)", title=title)
    fig.colorbar(image, ax=ax, label="count (log scale)", shrink=0.8)
    return fig


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    confidences: np.ndarray,
    title: str,
    columns: int = 8,
) -> Figure:
    """Grid of images, each titled with its true and predicted class.

    Args:
        images: (N, H, W) or (N, 1, H, W), uint8 in 0..255 or float.
        labels: (N,) true classes.
        predictions: (N,) predicted classes.
        confidences: (N,) probability of the predicted class (0..1).
        title: the figure title.
        columns: images per row at most.
    """
    pixels = np.asarray(images)
    if pixels.ndim == 4 and pixels.shape[1] == 1:
        pixels = pixels[:, 0]
    if pixels.ndim != 3:
        raise ValueError(
            f"images must be (N, H, W) or (N, 1, H, W), got shape {np.shape(images)}"
        )
    count = pixels.shape[0]
    if not count == len(labels) == len(predictions) == len(confidences):
        raise ValueError(
            f"{count} images but {len(labels)} labels, {len(predictions)} "
            f"predictions and {len(confidences)} confidences"
        )
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    if count == 0:
        fig = Figure(figsize=(4, 2), layout="constrained")
        fig.text(0.5, 0.5, "no misclassified samples", ha="center", va="center")
        fig.suptitle(title)
        return fig
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    if pixels.dtype == np.uint8:
        vmin, vmax = 0.0, 255.0
    else:
        # one scale for the whole grid, so brightness compares across images
        vmin, vmax = float(pixels.min()), float(pixels.max())
    fig = Figure(figsize=(1.35 * columns, 1.5 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, image, label, predicted, confidence in zip(
        axes, pixels, labels, predictions, confidences, strict=False
    ):
        ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(
            f"true {int(label)} → {int(predicted)} ({float(confidence):.0%})",
            fontsize=8,
        )
    fig.suptitle(title)
    return fig


def plot_point_sets(
    xy: np.ndarray,
    polar: np.ndarray,
    labels: np.ndarray,
    radius_threshold: float | None = None,
) -> Figure:
    """The same points in x-y and in polar coordinates (phi, r), side by side.

    Args:
        xy: (N, 2) x-y coordinates.
        polar: (N, 2) the same points as (r, phi).
        labels: (N,) their classes (0 or 1).
        radius_threshold: if given, drawn as the circle r = t in x-y and the
            line r = t in polar coordinates.
    """
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    xy_ax, polar_ax = fig.subplots(1, 2)
    for label, colour in enumerate(CLASS_COLOURS):
        mask = labels == label
        xy_ax.scatter(*xy[mask].T, s=6, c=colour, label=f"class {label}")
        polar_ax.scatter(polar[mask, 1], polar[mask, 0], s=6, c=colour)
    if radius_threshold is not None:
        angle = np.linspace(-math.pi, math.pi, 361)
        xy_ax.plot(
            radius_threshold * np.cos(angle),
            radius_threshold * np.sin(angle),
            "k--",
            lw=1.2,
            label=f"r = {radius_threshold:.2f}",
        )
        polar_ax.axhline(radius_threshold, color="k", ls="--", lw=1.2)
    xy_ax.set(xlabel="x", ylabel="y", title="x-y coordinates", aspect="equal")
    xy_ax.legend(loc="upper right", fontsize="small")
    polar_ax.set(
        xlabel="phi (radians)",
        ylabel="r",
        title="polar coordinates (phi, r)",
        xlim=(-math.pi, math.pi),
    )
    for ax in (xy_ax, polar_ax):
        ax.grid(alpha=0.3)
    return fig


def plot_accuracy_overview(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
) -> Figure:
    """Validation accuracy per epoch of every variant, one panel per problem.

    Args:
        panels: panel title -> variant label -> validation accuracy (fraction)
            per epoch, from epoch 1; an empty mapping draws "no results".
    """
    count = max(len(panels), 1)
    fig = Figure(figsize=(5.2 * count, 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, count))
    for ax, (title, curves) in zip(axes, panels.items(), strict=False):
        for label, accuracy in curves.items():
            epochs = np.arange(1, len(accuracy) + 1)
            ax.plot(epochs, 100 * np.asarray(accuracy), "o-", ms=4, label=label)
        if curves:  # below the axes, where it hides no line
            ax.legend(
                fontsize="small",
                loc="upper center",
                bbox_to_anchor=(0.5, -0.16),
                frameon=False,
            )
        else:
            ax.text(
                0.5, 0.5, "no results", ha="center", va="center", transform=ax.transAxes
            )
        ax.set(title=title, xlabel="epoch", ylabel="validation accuracy (%)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    return fig
