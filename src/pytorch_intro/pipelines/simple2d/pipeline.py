"""The 2D classifier: points in an inner disc vs an outer ring.

Shared steps (data, decision grid) live in the ``simple2d`` namespace; each
model variant is the train/evaluate/track template in ``simple2d.<variant>``,
on the features (x, y) or the polar (r, phi) that its preprocessing makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kedro.pipeline import Node, Pipeline

from pytorch_intro.pipelines.simple2d.nodes import (
    describe_point_sets,
    generate_point_sets,
    make_decision_grid,
    plot_decision_boundary,
)
from pytorch_intro.train_eval import bind, instantiate, results_node

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
            bind(describe_point_sets, origin=source),
            [f"{source}_train", f"{source}_valid"]
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


def _boundary_pipeline() -> Pipeline:
    node = Node(
        plot_decision_boundary,
        ["servable", "grid_points", "valid_set", "params:title"],
        "decision_boundary",
        name="plot_decision_boundary",
    )
    return Pipeline([node])


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
    pipeline = _data_pipeline(source)
    for variant, features in variants.items():
        pipeline += instantiate(
            "simple2d",
            variant,
            inputs={
                "train_set": f"simple2d.{source}_train",
                "valid_set": f"simple2d.{source}_valid",
                "grid_points": "simple2d.grid_xy",
            },
            features=features,
            kind="points",
            extra=_boundary_pipeline(),
        )
    return pipeline + results_node(
        "simple2d",
        variants,
        known=VARIANTS,
        data="simple2d.point_sets_description",
        figures={"point_sets": "simple2d.point_sets_figure"},
        variant_figures=("decision_boundary",),
    )
