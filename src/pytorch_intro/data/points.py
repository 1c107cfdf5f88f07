"""The 2D point sets: dicts of ``samples`` (N, 2) float coordinates and
``annotations`` (N,) labels, 0 for the inner disc and 1 for the outer ring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from pytorch_intro.validation import Config

PointSet = dict[str, np.ndarray]
Radius = Annotated[float, Field(gt=0, allow_inf_nan=False)]
KEYS = ("samples", "annotations")


class PointSetError(ValueError):
    """A point set is malformed; the message names its source and the problem."""


class PointSetGeneratorConfig(Config):
    """The assignment's point sets: a disc and a ring, classes balanced.

    The radius of each class is drawn from a normal distribution and the angle
    uniformly; the defaults match the statistics of the assignment's files.
    """

    seed: Annotated[int, Field(ge=0)] = 0
    n_train: Annotated[int, Field(ge=2)] = 2500
    n_valid: Annotated[int, Field(ge=2)] = 500
    inner_radius_mean: Radius = 5.0
    inner_radius_std: Radius = 0.75
    outer_radius_mean: Radius = 10.0
    outer_radius_std: Radius = 0.75


def _draw(
    rng: np.random.Generator, n: int, config: PointSetGeneratorConfig
) -> PointSet:
    n_inner = n - n // 2
    labels = np.repeat(np.array([0, 1], dtype=np.int32), [n_inner, n // 2])
    mean = np.where(labels == 0, config.inner_radius_mean, config.outer_radius_mean)
    std = np.where(labels == 0, config.inner_radius_std, config.outer_radius_std)
    radius = np.abs(rng.normal(mean, std))
    angle = rng.uniform(-np.pi, np.pi, size=n)
    samples = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    order = rng.permutation(n)
    return {"samples": samples[order], "annotations": labels[order]}


def generate_point_sets(config: PointSetGeneratorConfig) -> tuple[PointSet, PointSet]:
    """Draw the training and validation sets from one seeded generator."""
    rng = np.random.default_rng(config.seed)
    origin = {"generator": "disc and ring"} | {
        f"generator.{key}": value for key, value in config.model_dump().items()
    }
    return tuple(
        _draw(rng, n, config) | {"origin": origin}
        for n in (config.n_train, config.n_valid)
    )


def validate_point_set(data: Mapping[str, Any], source: str) -> PointSet:
    """The point set with numeric dtypes, or a :class:`PointSetError` naming
    ``source`` and what is wrong."""
    if missing := [key for key in KEYS if key not in data]:
        raise PointSetError(
            f"{source}: missing key(s) {', '.join(missing)}; a point set needs "
            f"'samples' (N, 2) and 'annotations' (N,), found: "
            f"{', '.join(sorted(data)) or 'nothing'}"
        )
    samples, labels = np.asarray(data["samples"]), np.asarray(data["annotations"])
    if samples.ndim != 2 or samples.shape[1] != 2:
        problem = f"'samples' must have shape (N, 2), got {samples.shape}"
    elif labels.ndim != 1:
        problem = f"'annotations' must have shape (N,), got {labels.shape}"
    elif len(samples) == 0:
        problem = "the point set is empty (0 samples)"
    elif len(samples) != len(labels):
        problem = f"{len(samples)} samples but {len(labels)} annotations"
    elif not all(np.issubdtype(a.dtype, np.number) for a in (samples, labels)):
        problem = (
            "samples and annotations must be numeric, got "
            f"{samples.dtype} and {labels.dtype}"
        )
    elif (rows := np.flatnonzero(~np.isfinite(samples).all(axis=1))).size:
        problem = (
            f"{rows.size} sample(s) with NaN or infinite coordinates "
            f"(first at row {rows[0]})"
        )
    elif (bad := np.flatnonzero((labels != 0) & (labels != 1))).size:
        problem = (
            f"annotations must be 0 or 1; {bad.size} are not "
            f"(first: {labels[bad[0]].item()!r} at row {bad[0]})"
        )
    else:
        return {
            "samples": samples.astype(np.float64),
            "annotations": labels.astype(np.int32),
        }
    raise PointSetError(f"{source}: {problem}")


def best_threshold(values: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The cut ``value > t`` (or ``<``) that best predicts binary labels: ``t``,
    halfway between neighbouring values, and the fraction it gets right."""
    order = np.argsort(values, kind="stable")
    sorted_values = np.asarray(values, dtype=np.float64)[order]
    positive = (np.asarray(labels)[order] == 1).astype(np.int64)
    n = len(positive)
    if n == 0:
        raise ValueError("best_threshold needs at least one point")
    # cut after position k (0..n): points before it predicted 0, the rest 1
    ones_below = np.concatenate([[0], np.cumsum(positive)])
    zeros_below = np.arange(n + 1) - ones_below
    correct = zeros_below + (ones_below[-1] - ones_below)
    correct = np.maximum(correct, n - correct)  # either direction
    k = int(np.argmax(correct))
    edges = np.concatenate(
        [[sorted_values[0] - 1.0], sorted_values, [sorted_values[-1] + 1.0]]
    )
    return float((edges[k] + edges[k + 1]) / 2), float(correct[k] / n)


def make_grid(samples: np.ndarray, resolution: int, margin: float) -> PointSet:
    """A ``resolution`` x ``resolution`` grid over the samples' bounding box (plus
    a margin): ``samples`` and its ``shape``, for contour plots."""
    low, high = samples.min(axis=0), samples.max(axis=0)
    pad = (high - low) * margin
    xx, yy = np.meshgrid(*np.linspace(low - pad, high + pad, resolution).T)
    return {
        "samples": np.stack([xx.ravel(), yy.ravel()], axis=1),
        "shape": np.array([resolution, resolution]),
    }


class GridConfig(Config):
    """The grid on which decision boundaries are drawn."""

    resolution: Annotated[int, Field(ge=2)] = 200
    margin: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.05
