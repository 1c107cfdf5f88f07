"""Nodes of the 2D classifier pipeline."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from pytorch_intro.data.points import (
    GridConfig,
    PointSet,
    PointSetGeneratorConfig,
    make_grid,
    to_polar,
)
from pytorch_intro.data.points import generate_point_sets as _generate
from pytorch_intro.models import Checkpoint, model_from_checkpoint
from pytorch_intro.reporting import plot_decision_boundary as _plot_boundary
from pytorch_intro.training import predict_logits
from pytorch_intro.validation import as_config


def generate_point_sets(
    generator: PointSetGeneratorConfig,
) -> tuple[PointSet, PointSet]:
    """Draw the seeded training and validation point sets."""
    return _generate(as_config(PointSetGeneratorConfig, generator))


def make_decision_grid(valid_points: PointSet, grid: GridConfig) -> PointSet:
    """A regular x-y grid over the validation points, for decision boundaries."""
    grid = as_config(GridConfig, grid)
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
