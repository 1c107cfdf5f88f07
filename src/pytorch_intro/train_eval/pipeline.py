"""The train -> evaluate -> track template, instantiated once per model variant.

Kept outside ``pipelines/`` because ``find_pipelines`` would register it as a
runnable pipeline of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from pytorch_intro.train_eval.nodes import (
    collect_variant_results,
    compute_confusion_matrix,
    count_parameters_by_layer,
    evaluate_model,
    plot_confusion_matrix,
    plot_learning_curves,
    resolve_training,
    summarize_run,
    train_model,
)


def bind(func: Callable, **kwargs) -> Callable:
    """``func`` with keyword arguments fixed, keeping its name for Kedro's logs."""
    return update_wrapper(partial(func, **kwargs), func)


def create_template(figures: Iterable[str] = ()) -> Pipeline:
    """Nodes shared by every variant, with unprefixed dataset names.

    Free inputs: ``train_set``, ``valid_set`` and the parameters ``model``,
    ``training``, ``title`` and ``variant`` (the variant's whole block, whose
    optional ``training`` mapping overrides the shared settings). Outputs: ``model``, ``history``, ``predictions``,
    ``metrics``, ``learning_curves``, ``parameter_counts``, ``confusion_matrix``,
    ``confusion_heatmap``, ``top_confusions``, ``summary`` and ``report_entry``
    (everything the report needs, with the PNG of each figure, plus those of the
    problem-specific ``figures`` made by extra nodes).
    """
    results = {
        name: name
        for name in (
            "summary",
            "metrics",
            "history",
            "parameter_counts",
            "model",
            "confusion_matrix",
            "top_confusions",
            "learning_curves",
            "confusion_heatmap",
            *figures,
        )
    }
    return Pipeline(
        [
            Node(
                resolve_training,
                ["params:training", "params:variant"],
                "training_config",
                name="resolve_training",
            ),
            Node(
                train_model,
                ["train_set", "valid_set", "params:model", "training_config"],
                ["model", "history", "training_step"],
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
                count_parameters_by_layer,
                "model",
                "parameter_counts",
                name="count_parameters_by_layer",
            ),
            Node(
                compute_confusion_matrix,
                ["predictions", "model"],
                ["confusion_matrix", "top_confusions"],
                name="compute_confusion_matrix",
            ),
            Node(
                plot_confusion_matrix,
                ["confusion_matrix", "params:title"],
                "confusion_heatmap",
                name="plot_confusion_matrix",
            ),
            Node(
                summarize_run,
                [
                    "model",
                    "training_config",
                    "params:title",
                    "train_set",
                    "parameter_counts",
                    "top_confusions",
                    "training_step",
                ],
                "summary",
                name="summarize_run",
            ),
            Node(
                collect_variant_results,
                results,
                "report_entry",
                name="collect_variant_results",
            ),
        ]
    )


def instantiate(
    problem: str,
    variant: str,
    inputs: Mapping[str, str],
    extra: Pipeline | None = None,
    shared: Iterable[str] = ("training",),
    figures: Iterable[str] = (),
) -> Pipeline:
    """The template (plus problem-specific ``extra`` nodes) for one variant.

    Everything lands in the namespace ``<problem>.<variant>``: datasets, nodes and
    the variant's own parameters (``<problem>.<variant>.model``, ``.title``);
    the ``shared`` parameters (``training``, ...) come from the problem's own
    block, e.g. ``<problem>.training``; ``figures`` names the figures made by
    ``extra`` that the variant's report entry includes.
    """
    return Pipeline(
        create_template(figures) + (extra or Pipeline([])),
        namespace=f"{problem}.{variant}",
        inputs=dict(inputs),
        parameters={f"params:{name}": f"params:{problem}.{name}" for name in shared}
        | {"params:variant": f"params:{problem}.{variant}"},
    )
