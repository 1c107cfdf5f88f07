"""The 2D classifier's section: points in a disc against points in a ring."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from pytorch_intro.reporting.document import (
    BulletList,
    Document,
    Heading,
    ImageRow,
    Paragraph,
)
from pytorch_intro.reporting.parts import (
    better,
    capitalized,
    count,
    differs,
    figure,
    pct,
    still_improving_claims,
    variant_section,
)
from pytorch_intro.reporting.results import (
    Container,
    Fraction,
    ProblemResults,
    VariantResults,
    check_class_counts,
)

ORDER = 10
TITLE = "2D classifier"
RUN_COMMAND = "kedro run --pipelines=simple2d"
SEPARATED = 0.99  # an accuracy at least this high "separates" the classes
ORIGINS = {"generated": "generated", "assignment": "the assignment's own"}

Features = Literal["xy", "polar"]


class Data(Container):
    """The point sets: where they come from and how the classes lie."""

    origin: Literal["generated", "assignment"]
    seed: int | None = None  # the generator's (generated points only)
    train_source: str  # the training points' file, relative to the project
    n_train: PositiveInt
    n_valid: PositiveInt
    class_counts: tuple[NonNegativeInt, NonNegativeInt]  # validation set
    radius: tuple[tuple[float, float], tuple[float, float]]  # (min, max) per class
    threshold: float  # the best single radius
    threshold_accuracy: Fraction  # of the validation points, split at it
    features: dict[str, Features] = Field(default_factory=dict)  # per variant

    @model_validator(mode="after")
    def _counts_add_up(self) -> Data:
        check_class_counts(self.class_counts, self.n_valid, "class_counts / n_valid")
        return self


class Results(ProblemResults[Data]):
    problem: Literal["simple2d"] = "simple2d"


def data_line(results: Results, files: bool = False) -> str:
    """E.g. "generated point sets (2,500 train / 500 validation, generator seed 0)"."""
    data = results.data
    seed = f", generator seed {data.seed}" if data.seed is not None else ""
    source = f"`{data.train_source}`; " if files else ""
    return (
        f"{ORIGINS[data.origin]} point sets ({source}{count(data.n_train)} train / "
        f"{count(data.n_valid)} validation{seed})"
    )


def _verdict(accuracy: float, chance: float, n: int) -> str:
    if accuracy <= chance or not differs(accuracy, n, chance, n):
        return f"no better than chance (the larger class is {pct(chance, 1)})"
    if accuracy >= SEPARATED:
        return "separates the classes"
    return f"better than chance, but misclassifies {pct(1 - accuracy, 1)} of points"


def _feature_claims(
    variants: Mapping[str, VariantResults], features: Mapping[str, Features]
) -> list[str]:
    """The same model on polar features against x-y features."""
    lines = []
    for polar_name, polar in variants.items():
        for xy_name, xy in variants.items():
            same_model = (
                xy.summary.architecture_config() == polar.summary.architecture_config()
            )
            pair = (features.get(polar_name), features.get(xy_name))
            if pair == ("polar", "xy") and same_model and better(polar, xy):
                lines.append(
                    "The polar transform is what makes the classes linearly "
                    f"separable: the same model goes from {pct(xy.accuracy)} on "
                    f"(x, y) to {pct(polar.accuracy)} on (r, phi)."
                )
    return lines


def _hidden_layer_claims(
    variants: Mapping[str, VariantResults], features: Mapping[str, Features]
) -> list[str]:
    """A model with hidden layers against a linear one, both on x-y features."""
    on_xy = [v for name, v in variants.items() if features.get(name) == "xy"]
    lines = []
    for deep, linear in itertools.permutations(on_xy, 2):
        hidden = deep.summary.architecture_config().get("hidden_sizes")
        if (
            hidden
            and not linear.summary.architecture_config().get("hidden_sizes")
            and better(deep, linear)
        ):
            lines.append(
                "Hidden layers with ReLU bend the boundary around the disc "
                f"without new features: the {deep.title} "
                f"({count(deep.summary.n_params)} parameters) reaches "
                f"{pct(deep.accuracy)} where the linear model "
                f"({count(linear.summary.n_params)} parameters) reaches "
                f"{pct(linear.accuracy)}."
            )
    return lines


def conclusions(results: Results) -> list[str]:
    """Statements the 2D results support (each one checked against the numbers)."""
    data, variants = results.data, results.variants
    chance = max(data.class_counts) / sum(data.class_counts)
    lines = [
        f"**{v.title}:** {pct(v.accuracy)}, {_verdict(v.accuracy, chance, v.n_eval)}."
        for v in variants.values()
    ]
    if data.threshold_accuracy >= 1.0:
        lines.append(
            f"One radius, r = {data.threshold:.2f}, splits the validation "
            "points exactly by class: a straight line in (phi, r) separates the "
            "classes, while in (x, y) the boundary is a circle, which no straight "
            "line can follow."
        )
    else:
        lines.append(
            f"The best single radius r = {data.threshold:.2f} classifies "
            f"{pct(data.threshold_accuracy, 1)} of the validation points: the "
            "classes overlap in r."
        )
    lines += _feature_claims(variants, data.features)
    lines += _hidden_layer_claims(variants, data.features)
    lines += still_improving_claims(variants.values(), ": more epochs would help")
    return lines


def write(document: Document, results: Results) -> None:
    """The section: data, point sets, each variant, decision boundaries, conclusions."""
    data = results.data
    (low0, high0), (low1, high1) = data.radius
    document.add(
        Heading("2D classifier: disc against ring"),
        Heading("Data", 3),
        Paragraph(
            f"{capitalized(data_line(results, files=True))}. Class 0 is a disc, "
            f"class 1 a ring around it; validation classes: {data.class_counts[0]} "
            f"and {data.class_counts[1]} points. Radii in the validation set: "
            f"class 0 {low0:.2f}-{high0:.2f}, class 1 {low1:.2f}-{high1:.2f}."
        ),
    )
    points = figure(
        results,
        "point_sets",
        "Validation points in x-y (left) and in polar coordinates (right), with "
        "the best single radius as a dashed line.",
    )
    if points:
        document.add(points)
    for variant in results.variants.values():
        variant_section(document, variant)
    boundaries = [
        image
        for variant in results.variants.values()
        if (image := figure(variant, "decision_boundary", variant.title))
    ]
    if boundaries:
        document.add(
            Heading("Decision boundaries", 3),
            Paragraph(
                "Each model's P(class 1) over the x-y plane, with the validation "
                "points; the black line is P = 0.5."
            ),
            ImageRow(boundaries),
        )
    document.add(
        Heading("What the numbers show", 3),
        BulletList(conclusions(results)),
    )
