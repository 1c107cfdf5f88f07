"""Figures built with matplotlib's object-oriented API (no pyplot state)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

CLASS_COLOURS = ("tab:blue", "tab:red")
CENTRED = {"ha": "center", "va": "center"}


def new_figure(width: float, height: float, *grid: int, **kwargs: Any) -> tuple:
    """A constrained-layout figure and its ``subplots(*grid, **kwargs)``."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(*grid, **kwargs)


def scatter_classes(ax: Axes, points: np.ndarray, labels: np.ndarray, **kw) -> None:
    """(N, 2) points, one colour and legend label per class (two: blue and red)."""
    two = labels.max(initial=0) < len(CLASS_COLOURS)
    colours = CLASS_COLOURS if two else colormaps["tab10"].colors
    for label in np.unique(labels):
        mask = labels == label
        ax.scatter(*points[mask].T, color=colours[label], label=f"class {label}", **kw)


def plot_learning_curves(history: Mapping[str, Sequence[float]], title: str) -> Figure:
    """Training/validation loss and validation accuracy (a fraction) per epoch."""
    epochs = list(history["epoch"])
    fig, (loss_ax, acc_ax) = new_figure(9, 3.6, 1, 2)
    loss_ax.plot(epochs, history["train_loss"], "o-", label="train")
    loss_ax.plot(epochs, history["val_loss"], "s-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    loss_ax.legend()
    accuracy = 100 * np.asarray(history["val_accuracy"])
    acc_ax.plot(epochs, accuracy, "s-", color="tab:green")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
    """Points coloured by class over P(class 1) on a (H*W, 2) x-y grid of
    ``grid_shape``; a model on other features is evaluated on the transformed grid."""
    shape = tuple(int(n) for n in grid_shape)
    xx, yy = (grid_points[:, i].reshape(shape) for i in (0, 1))
    prob = probabilities.reshape(shape)
    fig, ax = new_figure(5.6, 5)
    filled = ax.contourf(
        xx, yy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35
    )
    if prob.min() < 0.5 < prob.max():
        ax.contour(xx, yy, prob, levels=[0.5], colors="k", linewidths=1.5)
    scatter_classes(ax, points, labels, s=8, edgecolors="none")
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    ax.set(xlabel="x", ylabel="y", title=title, aspect="equal")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def plot_confusion_matrix(
    matrix: np.ndarray, title: str, class_names: Sequence[str] | None = None
) -> Figure:
    """Confusion matrix (rows true, columns predicted) with every count in its cell."""
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"matrix must be square, got shape {counts.shape}")
    size = counts.shape[0]
    names = [str(i) for i in range(size)] if class_names is None else class_names
    if len(names) != size:
        raise ValueError(f"{len(names)} class_names for a {size}x{size} matrix")
    # log scale: a few dozen errors stay visible beside a diagonal of thousands;
    # clip=True maps zero cells to vmin instead of masking log(0)
    norm = LogNorm(vmin=1, vmax=max(int(counts.max()), 10), clip=True)
    side = min(max(3.2, 0.55 * size + 1.6), 12)
    fig, ax = new_figure(side + 1.2, side)
    image = ax.imshow(counts, cmap="Blues", norm=norm)
    fontsize = 11 if size <= 5 else 8 if size <= 15 else 6
    for (row, col), count in np.ndenumerate(counts):
        # zeros in grey so the eye goes to the cells that hold errors; white where
        # the blue is darker than mid-grey (luminance 0.5: norm 0.62)
        colour = "0.45" if count == 0 else "white" if norm(count) > 0.62 else "black"
        ax.text(col, row, f"{int(count)}", color=colour, **CENTRED, fontsize=fontsize)
    ax.set_xticks(range(size), labels=names)
    ax.set_yticks(range(size), labels=names)
    ax.set(xlabel="predicted class (column)", ylabel="true class (row)", title=title)
    fig.colorbar(image, ax=ax, label="count (log scale)", shrink=0.8)
    return fig


def plot_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    title: str,
    columns: int,
    fontsize: float = 8,
    vmin: float = 0.0,
    vmax: float = 255.0,
) -> Figure:
    """Grey images of one size in a grid of ``columns`` at most, each with its
    title above it: one mosaic image in one axes (a figure of many small axes
    takes matplotlib ten times as long to lay out and draw)."""
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    height, width = np.shape(images[0])
    lines = max((text.count("\n") + 1 for text in titles), default=1)
    top, gap = round(0.4 * height * lines), 2  # room for a title; between images
    cell_h, cell_w = height + top, width + gap
    mosaic = np.full((rows * cell_h, columns * cell_w - gap), np.nan)
    fig, ax = new_figure(1.35 * columns, 1.5 * rows + 0.4)
    for index, (image, text) in enumerate(zip(images, titles, strict=False)):
        y, x = divmod(index, columns)
        y, x = y * cell_h + top, x * cell_w
        mosaic[y : y + height, x : x + width] = image
        ax.text(x + width / 2, y - 1, text, ha="center", va="bottom", fontsize=fontsize)
    grey = colormaps["gray"].with_extremes(bad="white")  # NaN: the gaps
    ax.imshow(mosaic, cmap=grey, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(title)
    return fig


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    confidences: np.ndarray,
    title: str,
    columns: int = 8,
) -> Figure:
    """(N, H, W) or (N, 1, H, W) images (uint8 or float), each titled with its
    true and predicted class and the confidence."""
    pixels = np.asarray(images)
    pixels = pixels[:, 0] if pixels.ndim == 4 and pixels.shape[1] == 1 else pixels
    if pixels.ndim != 3:
        raise ValueError(f"images of shape {pixels.shape}: not (N, [1,] H, W)")
    if not len(pixels) == len(labels) == len(predictions) == len(confidences):
        raise ValueError(
            f"{len(pixels)} images but {len(labels)} labels, {len(predictions)} "
            f"predictions and {len(confidences)} confidences"
        )
    if len(pixels) == 0:
        fig = Figure(figsize=(4, 2), layout="constrained")
        fig.text(0.5, 0.5, "no misclassified samples", **CENTRED)
        fig.suptitle(title)
        return fig
    titles = [
        f"true {int(t)} → {int(p)} ({float(c):.0%})"
        for t, p, c in zip(labels, predictions, confidences, strict=True)
    ]
    # floats: one scale for the whole grid, so brightness compares across images
    uint8 = pixels.dtype == np.uint8
    scale = (0, 255) if uint8 else (float(pixels.min()), float(pixels.max()))
    return plot_images(pixels, titles, title, columns, 8, *scale)


def plot_point_sets(
    xy: np.ndarray,
    polar: np.ndarray,
    labels: np.ndarray,
    radius_threshold: float | None = None,
) -> Figure:
    """The same points in x-y and as polar (r, phi) drawn (phi, r), side by side,
    with the circle/line r = ``radius_threshold`` if given."""
    fig, (xy_ax, polar_ax) = new_figure(10, 4.4, 1, 2)
    scatter_classes(xy_ax, xy, labels, s=6)
    scatter_classes(polar_ax, polar[:, ::-1], labels, s=6)
    if radius_threshold is not None:
        angle = np.linspace(-math.pi, math.pi, 361)
        circle = radius_threshold * np.array([np.cos(angle), np.sin(angle)])
        xy_ax.plot(*circle, "k--", lw=1.2, label=f"r = {radius_threshold:.2f}")
        polar_ax.axhline(radius_threshold, color="k", ls="--", lw=1.2)
    xy_ax.set(xlabel="x", ylabel="y", title="x-y coordinates", aspect="equal")
    xy_ax.legend(loc="upper right", fontsize="small")
    polar_ax.set(xlabel="phi (radians)", ylabel="r", xlim=(-math.pi, math.pi))
    polar_ax.set_title("polar coordinates (phi, r)")
    for ax in (xy_ax, polar_ax):
        ax.grid(alpha=0.3)
    return fig


def plot_accuracy_overview(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
) -> Figure:
    """One panel per problem (title -> variant -> validation accuracy per epoch)."""
    fig, axes = new_figure(5.2 * max(len(panels), 1), 4.6, 1, max(len(panels), 1))
    for ax, (title, curves) in zip(np.atleast_1d(axes), panels.items(), strict=False):
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
            ax.text(0.5, 0.5, "no results", **CENTRED, transform=ax.transAxes)
        ax.set(title=title, xlabel="epoch", ylabel="validation accuracy (%)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    return fig
