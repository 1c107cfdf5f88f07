"""The train -> evaluate -> track template, instantiated once per model variant.

Kept outside ``pipelines/`` because ``find_pipelines`` would register it as a
runnable pipeline of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from pytorch_intro import reporting
from pytorch_intro.models.preprocessing import FEATURES
from pytorch_intro.train_eval import nodes
from pytorch_intro.workers import WORKER_TAG

#: The figures every variant draws (a problem's extra nodes may draw more).
FIGURES = ("learning_curves", "confusion_heatmap")


def bind(func: Callable, **kwargs) -> Callable:
    """``func`` with keyword arguments fixed, keeping its name for Kedro's logs."""
    return update_wrapper(partial(func, **kwargs), func)


def create_template(features: str, kind: str) -> Pipeline:
    """Nodes shared by every variant, with unprefixed dataset names.

    Free inputs: the raw ``train_set`` and ``valid_set`` (``samples`` as a user
    has them, ``annotations``) and the parameters ``model``, ``training``,
    ``title`` and ``variant`` (the variant's whole block, whose optional
    ``training`` mapping overrides the shared settings). ``features`` names the
    preprocessing (``models/preprocessing.py``) that both the training data and
    the exported ``servable`` (inputs of ``kind``) go through. ``report_entry``
    is the variant's record
    (:class:`~pytorch_intro.reporting.results.VariantResults`): its settings and
    numbers, without figures, so that a sweep's point runs to it without drawing
    any; the problem's results add the files of its ``FIGURES``
    (:func:`results_node`).
    """
    if features not in FEATURES:
        raise ValueError(f"features={features!r}; choose one of: {', '.join(FEATURES)}")
    names = ("train_set", "training_step", "metrics", "history", "parameter_counts")
    names += ("confusion_matrix", "top_confusions")
    record = {name: name for name in names} | {
        "title": "params:title",
        "model": "params:model",
        "training": "training_config",
        "checkpoint": "model",
    }
    steps = [
        (
            bind(nodes.preprocess_inputs, features=features),
            ["train_set", "valid_set"],
            ["train_features", "valid_features"],
        ),
        (
            nodes.resolve_training,
            ["params:training", "params:variant"],
            "training_config",
        ),
        (
            nodes.train_model,
            ["train_features", "valid_features", "params:model", "training_config"],
            ["model", "history", "training_step"],
        ),
        (
            nodes.evaluate_model,
            ["model", "valid_features", "history"],
            ["predictions", "metrics", "dead_units"],
        ),
        (
            bind(nodes.package_model, features=features, kind=kind),
            ["model", "valid_set"],
            "servable",
        ),
        (
            reporting.plot_learning_curves,
            ["history", "params:title"],
            "learning_curves",
        ),
        (nodes.count_parameters_by_layer, "model", "parameter_counts"),
        (
            nodes.compute_confusion_matrix,
            ["predictions", "model"],
            ["confusion_matrix", "top_confusions"],
        ),
        (
            reporting.plot_confusion_matrix,
            ["confusion_matrix", "params:title"],
            "confusion_heatmap",
        ),
        (
            bind(nodes.collect_variant_results, features=features),
            record,
            "report_entry",
        ),
    ]
    return Pipeline(
        [
            Node(
                func,
                inputs,
                outputs,
                name=func.__name__,
                # training runs in a worker process (VariantRunner)
                tags=[WORKER_TAG] if func is nodes.train_model else None,
            )
            for func, inputs, outputs in steps
        ]
    )


def instantiate(
    problem: str,
    variant: str,
    inputs: Mapping[str, str],
    features: str,
    kind: str,
    extra: Pipeline | None = None,
    shared: Iterable[str] = ("training",),
) -> Pipeline:
    """The template (plus problem-specific ``extra`` nodes) for one variant
    trained on ``features`` of inputs of ``kind`` (see :func:`create_template`).

    Everything lands in the namespace ``<problem>.<variant>``: datasets, nodes and
    the variant's own parameters (``<problem>.<variant>.model``, ``.title``);
    the ``shared`` parameters (``training``, ...) come from the problem's own
    block, e.g. ``<problem>.training``.
    """
    return Pipeline(
        create_template(features, kind) + (extra or Pipeline([])),
        namespace=f"{problem}.{variant}",
        inputs=dict(inputs),
        parameters={f"params:{name}": f"params:{problem}.{name}" for name in shared}
        | {"params:variant": f"params:{problem}.{variant}"},
    )


def results_node(
    problem: str,
    variants: Iterable[str],
    known: Iterable[str],
    data: str,
    figures: Mapping[str, str] | None = None,
    variant_figures: Iterable[str] = (),
) -> Pipeline:
    """The problem's ``<problem>_results``: this run's ``variants`` (each its
    record and the files of its ``FIGURES`` and ``variant_figures``, drawn by
    the problem's extra nodes), the ``data`` description and ``figures``
    (name -> dataset), combined with the latest saved results for the ``known``
    variants not run."""
    figures = dict(figures or {})
    variant_figures = (*FIGURES, *variant_figures)
    collect = bind(
        nodes.collect_results,
        problem=problem,
        known=tuple(known),
        figures=tuple(figures),
        variant_figures=variant_figures,
    )
    inputs = {"identity": "run_identity", "data": data}
    inputs |= {"earlier": f"{problem}_results_latest"} | figures
    inputs |= {variant: f"{problem}.{variant}.report_entry" for variant in variants}
    inputs |= {
        f"{variant}.{figure}": f"{problem}.{variant}.{figure}"
        for variant in variants
        for figure in variant_figures
    }
    node = Node(
        collect, inputs, f"{problem}_results", name="collect_results", namespace=problem
    )
    return Pipeline([node])
