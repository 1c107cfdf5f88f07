"""``kedro run --pipelines=predict --params=predict.input=PATH``: a trained
model's classes (by default the champion for the input's kind) and a figure."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from pytorch_intro.pipelines.predict.nodes import (
    plot_predictions,
    predict_classes,
    read_inputs,
)


def create_pipeline(**kwargs) -> Pipeline:
    """The predict pipeline (namespace ``predict``; parameters: the ``predict`` block)."""
    return Pipeline(
        [
            Node(
                read_inputs,
                ["input_reader", "params:predict"],
                "inputs",
                name="read_inputs",
            ),
            Node(
                predict_classes,
                ["inputs", "model_loader", "params:predict"],
                ["predictions", "model_name"],
                name="predict_classes",
            ),
            Node(
                plot_predictions,
                ["inputs", "predictions", "model_name", "params:predict"],
                "figure",
                name="plot_predictions",
            ),
        ],
        namespace="predict",
        # the whole `predict` block, not `predict.predict`
        parameters={"params:predict": "params:predict"},
    )
