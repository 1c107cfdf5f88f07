"""Nodes of the predict pipeline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pytorch_intro.data.prediction_inputs import PredictionInputs
from pytorch_intro.pipelines.predict.config import PredictConfig
from pytorch_intro.reporting.predictions import (
    plot_digit_predictions,
    plot_point_predictions,
    prediction_table,
)

logger = logging.getLogger(__name__)

#: Failures named one by one in the warning (all of them are in the CSV).
LISTED_FAILURES = 50


def read_inputs(
    read: Callable[[str], PredictionInputs], config: PredictConfig
) -> PredictionInputs:
    """The inputs that ``predict.input`` names; those unusable in one warning."""
    inputs = read(config.require_input())
    if inputs.failed:
        listed = [f"{name}: {why}" for name, why in inputs.failed.items()]
        more = len(listed) - LISTED_FAILURES
        logger.warning(
            "%d of %d inputs in %s cannot be predicted (each has its reason in the "
            "predictions' error column): %s%s",
            len(listed),
            len(inputs.order),
            inputs.source,
            "; ".join(listed[:LISTED_FAILURES]),
            f"; and {more} more" if more > 0 else "",
        )
    return inputs


def predict_classes(
    inputs: PredictionInputs, load_model: Callable[..., Any], config: PredictConfig
) -> tuple[pd.DataFrame, str]:
    """The model's class for each input; also which model it was."""
    request = config.model_request(inputs.kind)
    model = load_model(**request, kind=inputs.kind)
    probabilities = np.stack(model.predict(inputs.model_input())["probabilities"])
    described = request.get("uri") or f"{request['variant']} of run {request['run_id']}"
    what = f"{len(inputs.names)} {inputs.kind} from {inputs.source}"
    logger.info("Predicted %s with %s", what, described)
    return prediction_table(inputs, probabilities), described


def plot_predictions(
    inputs: PredictionInputs,
    predictions: pd.DataFrame,
    model: str,
    config: PredictConfig,
) -> Figure:
    """The inputs with their predicted classes: digits in a grid, points in a scatter."""
    title = f"Predictions of {model}"
    if inputs.kind == "points":
        return plot_point_predictions(inputs, predictions, title)
    return plot_digit_predictions(inputs, predictions, title, config.figure_max_images)
