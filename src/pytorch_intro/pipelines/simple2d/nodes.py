"""Nodes of the 2D classifier pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pytorch_intro.data.points import (
    GridConfig,
    PointSet,
    PointSetGeneratorConfig,
    best_threshold,
    make_grid,
)
from pytorch_intro.data.points import generate_point_sets as _generate
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.reporting import plot_decision_boundary as _plot_boundary
from pytorch_intro.reporting import plot_point_sets
from pytorch_intro.reporting.results import project_relative
from pytorch_intro.serving import Servable


def generate_point_sets(
    generator: PointSetGeneratorConfig,
) -> tuple[PointSet, PointSet]:
    """Draw the seeded training and validation point sets."""
    return _generate(PointSetGeneratorConfig.model_validate(generator))


def make_decision_grid(valid_points: PointSet, grid: GridConfig) -> PointSet:
    """A regular x-y grid over the validation points, for decision boundaries."""
    grid = GridConfig.model_validate(grid)
    return make_grid(valid_points["samples"], grid.resolution, grid.margin)


def plot_decision_boundary(
    servable: Servable, grid_points: PointSet, valid_points: PointSet, title: str
) -> Figure:
    """Validation points over P(class 1) of the model as it is served (its
    preprocessing inside), on an x-y grid."""
    return _plot_boundary(
        grid_points["samples"],
        grid_points["shape"],
        servable.predict(grid_points["samples"].astype(np.float32))[:, 1],
        valid_points["samples"],
        valid_points["annotations"],
        title,
    )


def describe_point_sets(
    train_points: PointSet,
    valid_points: PointSet,
    generator: PointSetGeneratorConfig | None = None,
    *,
    origin: str,
) -> tuple[Figure, dict[str, Any]]:
    """The validation points in x-y and polar coordinates, and their statistics.

    ``origin`` says where the points come from ("generated", "assignment");
    ``generator`` (generated points only) gives their seed.
    """
    labels = valid_points["annotations"]
    polar = preprocess("polar", valid_points["samples"])
    radius = polar[:, 0]
    threshold, accuracy = best_threshold(radius, labels)
    figure = plot_point_sets(valid_points["samples"], polar, labels, threshold)
    seed = PointSetGeneratorConfig.model_validate(generator).seed if generator else None
    return figure, {
        "origin": origin,
        "seed": seed,
        "train_source": project_relative(
            str(train_points.get("source", "in memory")), Path.cwd()
        ),
        "n_train": len(train_points["annotations"]),
        "n_valid": len(labels),
        "class_counts": np.bincount(labels, minlength=2).tolist(),
        "radius": [
            [float(radius[labels == k].min()), float(radius[labels == k].max())]
            for k in (0, 1)
        ],
        "threshold": threshold,
        "threshold_accuracy": accuracy,
    }
