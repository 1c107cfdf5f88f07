"""The 2D classifier's section: points in a disc against points in a ring."""

from __future__ import annotations

import itertools
from typing import ClassVar, Literal

from pydantic import NonNegativeInt, PositiveInt, model_validator

from pytorch_intro.reporting.document import (
    BulletList,
    Document,
    Heading,
    ImageRow,
    Paragraph,
)
from pytorch_intro.reporting.parts import (
    better,
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
    check_class_counts,
)

SEPARATED = 0.99  # an accuracy at least this high "separates" the classes
ORIGINS = {"generated": "generated", "assignment": "the assignment's own"}


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

    @model_validator(mode="after")
    def _counts_add_up(self) -> Data:
        check_class_counts(self.class_counts, self.n_valid, "class_counts / n_valid")
        return self


class Results(ProblemResults[Data]):
    problem: Literal["simple2d"] = "simple2d"
    title: ClassVar[str] = "2D classifier"
    order: ClassVar[int] = 10

    def data_line(self, files: bool = False) -> str:
        """E.g. "generated point sets (2,500 train / 500 validation, generator seed 0)"."""
        data = self.data
        seed = f", generator seed {data.seed}" if data.seed is not None else ""
        source = f"`{data.train_source}`; " if files else ""
        return (
            f"{ORIGINS[data.origin]} point sets ({source}{count(data.n_train)} train / "
            f"{count(data.n_valid)} validation{seed})"
        )

    def write(self, document: Document) -> None:
        """The section: data, point sets, each variant, decision boundaries, conclusions."""
        data, line = self.data, self.data_line(files=True)
        (low0, high0), (low1, high1) = data.radius
        document.add(
            Heading("2D classifier: disc against ring"),
            Heading("Data", 3),
            Paragraph(
                f"{line[:1].upper()}{line[1:]}. Class 0 is a disc, "
                f"class 1 a ring around it; validation classes: {data.class_counts[0]} "
                f"and {data.class_counts[1]} points. Radii in the validation set: "
                f"class 0 {low0:.2f}-{high0:.2f}, class 1 {low1:.2f}-{high1:.2f}."
            ),
            figure(
                self,
                "point_sets",
                "Validation points in x-y (left) and in polar coordinates (right), with "
                "the best single radius as a dashed line.",
            ),
        )
        for variant in self.variants.values():
            variant_section(document, variant)
        boundaries = [
            image
            for variant in self.variants.values()
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
        document.add(Heading("What the numbers show", 3), BulletList(conclusions(self)))


def _verdict(accuracy: float, chance: float, n: int) -> str:
    if accuracy <= chance or not differs(accuracy, n, chance, n):
        return f"no better than chance (the larger class is {pct(chance, 1)})"
    if accuracy >= SEPARATED:
        return "separates the classes"
    return f"better than chance, but misclassifies {pct(1 - accuracy, 1)} of points"


def conclusions(results: Results) -> list[str]:
    """Statements the 2D results support (each one checked against the numbers)."""
    data, variants = results.data, list(results.variants.values())
    chance = max(data.class_counts) / sum(data.class_counts)
    lines = [
        f"**{v.title}:** {pct(v.accuracy)}, {_verdict(v.accuracy, chance, v.n_eval)}."
        for v in variants
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
    pairs = list(itertools.permutations(variants, 2))
    lines += [  # the same model on polar features against x-y features
        "The polar transform is what makes the classes linearly separable: the "
        f"same model goes from {pct(xy.accuracy)} on (x, y) to {pct(polar.accuracy)} "
        "on (r, phi)."
        for polar, xy in pairs
        if (polar.features, xy.features) == ("polar", "xy")
        and xy.model == polar.model
        and better(polar, xy)
    ]
    lines += [  # hidden layers against a linear model, both on x-y features
        "Hidden layers with ReLU bend the boundary around the disc without new "
        f"features: the {deep.title} ({count(deep.n_params)} parameters) reaches "
        f"{pct(deep.accuracy)} where the linear model ({count(linear.n_params)} "
        f"parameters) reaches {pct(linear.accuracy)}."
        for deep, linear in pairs
        if deep.features == linear.features == "xy"
        and deep.model.hidden_sizes
        and not linear.model.hidden_sizes
        and better(deep, linear)
    ]
    lines += still_improving_claims(variants, ": more epochs would help")
    return lines
