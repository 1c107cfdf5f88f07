"""Nodes of the 2D classifier pipeline."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from pytorch_intro.data.points import (
    GridConfig,
    PointSet,
    PointSetGeneratorConfig,
    best_threshold,
    make_grid,
    to_polar,
)
from pytorch_intro.data.points import generate_point_sets as _generate
from pytorch_intro.models import Checkpoint, model_from_checkpoint
from pytorch_intro.reporting import plot_decision_boundary as _plot_boundary
from pytorch_intro.reporting import plot_point_sets
from pytorch_intro.reporting.results import (
    VariantResults,
    combine_runs,
    project_relative,
)
from pytorch_intro.reporting.sections.simple2d import Data, Results, data_line
from pytorch_intro.serving import Servable, export_servable, fingerprint
from pytorch_intro.training import predict_logits


def generate_point_sets(
    generator: PointSetGeneratorConfig,
) -> tuple[PointSet, PointSet]:
    """Draw the seeded training and validation point sets."""
    return _generate(PointSetGeneratorConfig.model_validate(generator))


def make_decision_grid(valid_points: PointSet, grid: GridConfig) -> PointSet:
    """A regular x-y grid over the validation points, for decision boundaries."""
    grid = GridConfig.model_validate(grid)
    return make_grid(valid_points["samples"], grid.resolution, grid.margin)


def compute_polar_features(
    train_points: PointSet, valid_points: PointSet, grid_points: PointSet
) -> tuple[PointSet, PointSet, PointSet]:
    """(x, y) -> (r, phi) for the training, validation and grid points."""
    return to_polar(train_points), to_polar(valid_points), to_polar(grid_points)


def plot_decision_boundary(
    model: Checkpoint,
    grid_set: PointSet,
    grid_points: PointSet,
    valid_points: PointSet,
    title: str,
) -> Figure:
    """Validation points over the model's P(class 1), drawn in the x-y plane.

    ``grid_set`` holds the grid in the model's own features (x-y or polar);
    ``grid_points`` the same grid in x-y, where it is drawn.
    """
    inputs = torch.from_numpy(grid_set["samples"].astype(np.float32))
    logits = predict_logits(model_from_checkpoint(model), inputs)
    probabilities = torch.sigmoid(logits.squeeze(-1))
    return _plot_boundary(
        grid_points["samples"],
        grid_points["shape"],
        probabilities.numpy(),
        valid_points["samples"],
        valid_points["annotations"],
        title,
    )


def package_model(
    model: Checkpoint, valid_points: PointSet, *, features: str
) -> Servable:
    """The trained model as users call it: (x, y) points in, class probabilities
    out (the polar transform inside for a polar variant), exported."""
    return export_servable(
        model_from_checkpoint(model),
        valid_points["samples"][:2],
        kind="points",
        features=features,
        eval_data=fingerprint(valid_points["samples"], valid_points["annotations"]),
    )


def describe_point_sets(
    train_points: PointSet,
    valid_points: PointSet,
    valid_polar: PointSet,
    generator: PointSetGeneratorConfig | None = None,
    *,
    origin: str,
) -> tuple[Figure, dict[str, Any]]:
    """The validation points in x-y and polar coordinates, and their statistics.

    ``origin`` says where the points come from ("generated", "assignment");
    ``generator`` (generated points only) gives their seed.
    """
    labels = valid_points["annotations"]
    radius = valid_polar["samples"][:, 0]
    threshold, accuracy = best_threshold(radius, labels)
    figure = plot_point_sets(
        valid_points["samples"], valid_polar["samples"], labels, threshold
    )
    seed = PointSetGeneratorConfig.model_validate(generator).seed if generator else None
    return figure, {
        "origin": origin,
        "seed": seed,
        "train_source": str(train_points.get("source", "in memory")),
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


def collect_simple2d_results(
    identity: dict[str, Any],
    data: dict[str, Any],
    point_sets: bytes,
    earlier: Results | None = None,
    *,
    features: dict[str, str],
    known: Collection[str] = (),
    **variants: VariantResults,
) -> Results:
    """The 2D pipeline's results for the report: data, features and variants.

    ``variants`` are this run's; the ``known`` variants it did not train are
    kept from the ``earlier`` results (the latest saved), each with its own run
    and features. The points' file is recorded relative to the project (the
    working directory).
    """
    described = Data.model_validate(data | {"features": dict(features)})
    source = project_relative(described.train_source, Path.cwd())
    results = Results(
        identity=identity,
        data=described.model_copy(update={"train_source": source}),
        variants=variants,
        figures={"point_sets": point_sets},
    )
    combined = combine_runs(results, earlier, data_line(results), known)
    kept = earlier.data.features if earlier is not None else {}
    features = {name: kept[name] for name in combined.variants if name in kept}
    combined.data.features = features | results.data.features
    return combined
