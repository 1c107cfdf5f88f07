"""The 2D classifier: points in an inner disc vs an outer ring.

Shared steps (data, decision grid, polar transform) live in the ``simple2d``
namespace; each model variant is the train/evaluate/track template in
``simple2d.<variant>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kedro.pipeline import Node, Pipeline

from pytorch_intro.pipelines.simple2d.nodes import (
    collect_simple2d_results,
    compute_polar_features,
    describe_point_sets,
    generate_point_sets,
    make_decision_grid,
    package_model,
    plot_decision_boundary,
)
from pytorch_intro.train_eval import bind, instantiate

# Variant name -> the features it trains on ("xy" or "polar"). Adding a variant:
# a block `simple2d.<name>` (model, title) in parameters_simple2d.yml and a line here.
VARIANTS: dict[str, str] = {
    "linear": "xy",
    "mlp": "xy",
    "polar_linear": "polar",
}
SOURCES = ("generated", "assignment")


def _data_pipeline(source: str) -> Pipeline:
    nodes = [
        Node(
            make_decision_grid,
            [f"{source}_valid", "params:grid"],
            "grid_xy",
            name="make_decision_grid",
        ),
        Node(
            compute_polar_features,
            [f"{source}_train", f"{source}_valid", "grid_xy"],
            ["train_polar", "valid_polar", "grid_polar"],
            name="compute_polar_features",
        ),
        Node(
            bind(describe_point_sets, origin=source),
            [f"{source}_train", f"{source}_valid", "valid_polar"]
            + (["params:generator"] if source == "generated" else []),
            ["point_sets_figure", "point_sets_description"],
            name="describe_point_sets",
        ),
    ]
    if source == "generated":
        nodes.insert(
            0,
            Node(
                generate_point_sets,
                "params:generator",
                ["generated_train", "generated_valid"],
                name="generate_point_sets",
            ),
        )
    return Pipeline(nodes, namespace="simple2d")


def _results_pipeline(variants: Mapping[str, str]) -> Pipeline:
    node = Node(
        bind(collect_simple2d_results, features=dict(variants), known=tuple(VARIANTS)),
        {
            "identity": "run_identity",
            "earlier": "simple2d_results_latest",
            "data": "simple2d.point_sets_description",
            "point_sets": "simple2d.point_sets_figure",
        }
        | {variant: f"simple2d.{variant}.report_entry" for variant in variants},
        "simple2d_results",
        name="collect_results",
        namespace="simple2d",
    )
    return Pipeline([node])


def _boundary_pipeline(features: str) -> Pipeline:
    return Pipeline(
        [
            Node(
                plot_decision_boundary,
                ["model", "grid_set", "grid_points", "valid_points", "params:title"],
                "decision_boundary",
                name="plot_decision_boundary",
            ),
            Node(
                bind(package_model, features=features),
                ["model", "valid_points"],
                "servable",
                name="package_model",
            ),
        ]
    )


def create_pipeline(
    variants: Mapping[str, str] | Iterable[str] = VARIANTS,
    source: str = "generated",
    **kwargs,
) -> Pipeline:
    """The 2D pipeline for ``variants`` trained on ``source`` data.

    Args:
        variants: variant name -> features ("xy" or "polar"), or names of
            ``VARIANTS`` (e.g. ``["mlp"]``: that variant alone).
        source: "generated" (the seeded generator, the default) or "assignment"
            (the assignment's own train.npz/valid.npz in data/01_raw/simple2d/).
    """
    if source not in SOURCES:
        raise ValueError(f"source={source!r}; choose one of: {', '.join(SOURCES)}")
    if not isinstance(variants, Mapping):
        variants = tuple(variants)
        unknown = [name for name in variants if name not in VARIANTS]
        if unknown:
            raise ValueError(
                f"unknown variant(s) {', '.join(unknown)}; choose from: "
                f"{', '.join(VARIANTS)}"
            )
        variants = {name: VARIANTS[name] for name in variants}
    features = {
        "xy": (
            f"simple2d.{source}_train",
            f"simple2d.{source}_valid",
            "simple2d.grid_xy",
        ),
        "polar": (
            "simple2d.train_polar",
            "simple2d.valid_polar",
            "simple2d.grid_polar",
        ),
    }
    pipeline = _data_pipeline(source)
    for variant, feature_space in variants.items():
        if feature_space not in features:
            raise ValueError(
                f"variant {variant!r} uses features {feature_space!r}; "
                f"choose one of: {', '.join(features)}"
            )
        train_set, valid_set, grid_set = features[feature_space]
        pipeline += instantiate(
            "simple2d",
            variant,
            inputs={
                "train_set": train_set,
                "valid_set": valid_set,
                "grid_set": grid_set,
                "grid_points": "simple2d.grid_xy",
                "valid_points": f"simple2d.{source}_valid",
            },
            extra=_boundary_pipeline(feature_space),
            figures=("decision_boundary",),
        )
    return pipeline + _results_pipeline(variants)
