"""The train -> evaluate -> track template, instantiated once per model variant.

Kept outside ``pipelines/`` because ``find_pipelines`` would register it as a
runnable pipeline of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from kedro.pipeline import Node, Pipeline

from pytorch_intro.train_eval.nodes import (
    evaluate_model,
    plot_learning_curves,
    summarize_run,
    train_model,
)


def create_template() -> Pipeline:
    """Nodes shared by every variant, with unprefixed dataset names.

    Free inputs: ``train_set``, ``valid_set`` and the parameters ``model``,
    ``training`` and ``title``. Outputs: ``model``, ``history``, ``predictions``,
    ``metrics``, ``learning_curves`` and ``summary``.
    """
    return Pipeline(
        [
            Node(
                train_model,
                ["train_set", "valid_set", "params:model", "params:training"],
                ["model", "history"],
                name="train_model",
            ),
            Node(
                evaluate_model,
                ["model", "valid_set"],
                ["predictions", "metrics"],
                name="evaluate_model",
            ),
            Node(
                plot_learning_curves,
                ["history", "params:title"],
                "learning_curves",
                name="plot_learning_curves",
            ),
            Node(
                summarize_run,
                ["model", "params:training", "params:title", "train_set"],
                "summary",
                name="summarize_run",
            ),
        ]
    )


def instantiate(
    problem: str,
    variant: str,
    inputs: Mapping[str, str],
    extra: Pipeline | None = None,
) -> Pipeline:
    """The template (plus problem-specific ``extra`` nodes) for one variant.

    Everything lands in the namespace ``<problem>.<variant>``: datasets, nodes and
    the variant's own parameters (``<problem>.<variant>.model``, ``.title``);
    ``training`` comes from the problem's shared ``<problem>.training``.
    """
    return Pipeline(
        create_template() + (extra or Pipeline([])),
        namespace=f"{problem}.{variant}",
        inputs=dict(inputs),
        parameters={"params:training": f"params:{problem}.training"},
    )
