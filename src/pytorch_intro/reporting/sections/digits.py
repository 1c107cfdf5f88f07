"""The digit classifier's section: linear, MLP and CNN on MNIST."""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import NonNegativeInt, PositiveInt, model_validator

from pytorch_intro.reporting.document import (
    BulletList,
    Document,
    Heading,
    Paragraph,
    Table,
)
from pytorch_intro.reporting.parts import (
    count,
    differs,
    figure,
    parameter_table,
    pct,
    seed_spread,
    still_improving_claims,
    variant_section,
)
from pytorch_intro.reporting.results import (
    Container,
    ProblemResults,
    check_class_counts,
)

ORDER = 20
TITLE = "Digit classifier"
RUN_COMMAND = "kedro run --pipelines=digits"


class Data(Container):
    """Where the digits come from and how many of each class there are."""

    train_source: str
    test_source: str
    n_train: PositiveInt
    n_test: PositiveInt
    train_class_counts: list[NonNegativeInt]  # digit 0 first
    test_class_counts: list[NonNegativeInt]

    @model_validator(mode="after")
    def _counts_add_up(self) -> Data:
        check_class_counts(self.train_class_counts, self.n_train, "train_class_counts")
        check_class_counts(self.test_class_counts, self.n_test, "test_class_counts")
        return self


class Results(ProblemResults[Data]):
    problem: Literal["digits"] = "digits"


def data_line(results: Results) -> str:
    """E.g. "MNIST (canonical files) (60,000 train / 10,000 test)"."""
    data = results.data
    return (
        f"{data.train_source} ({count(data.n_train)} train / {count(data.n_test)} test)"
    )


def conclusions(results: Results) -> list[str]:
    """Statements the digits results support (each one checked against the numbers)."""
    variants = list(results.variants.values())
    lines = []
    if variants:
        best = max(variants, key=lambda v: v.accuracy)
        lines.append(
            f"Best test accuracy: **{best.title}**, "
            f"{pct(best.accuracy)} ({count(best.summary.n_params)} parameters)."
        )
    for a, b in itertools.permutations(variants, 2):
        pa, pb = a.accuracy, b.accuracy
        na, nb = a.summary.n_params, b.summary.n_params
        if not differs(pa, a.n_eval, pb, b.n_eval):
            if pa > pb:  # each pair once
                lines.append(
                    f"The {a.title} and the {b.title} are within noise of each "
                    f"other ({pct(pa)} against {pct(pb)} on {count(a.n_eval)} test "
                    "digits)."
                )
        elif pa > pb and na < nb:
            lines.append(
                f"The {a.title} beats the {b.title} ({pct(pa)} against {pct(pb)}) "
                f"with {na / nb:.0%} of its parameters ({count(na)} against "
                f"{count(nb)})."
            )
    tops = {v.title: v.top_confusions[0] for v in variants if v.top_confusions}
    pairs = {(c.true, c.predicted) for c in tops.values()}
    if len(tops) > 1 and len(pairs) == 1:
        true, predicted = pairs.pop()
        lines.append(
            f"Every variant's most frequent error is the same: a {true} read as "
            f"a {predicted}."
        )
    if len(variants) > 1:
        slow = max(variants, key=lambda v: v.seconds_per_epoch)
        fast = min(variants, key=lambda v: v.seconds_per_epoch)
        lines.append(
            f"Training cost: {slow.seconds_per_epoch:.1f} s per epoch for the "
            f"{slow.title}, {fast.seconds_per_epoch:.1f} s for the {fast.title}."
        )
    lines += still_improving_claims(variants)
    return lines


def write(document: Document, results: Results) -> None:
    """The section: data, comparison, each variant in detail, conclusions."""
    data, variants = results.data, results.variants
    document.add(
        Heading("Digit classifier: MNIST"),
        Heading("Data", 3),
        Paragraph(
            f"{data_line(results)}. Images are 28x28 grey levels "
            f"0..255, normalised to [-1, 1] as x / 127.5 - 1; test-set classes: "
            + ", ".join(
                f"{digit}: {count(n)}" for digit, n in enumerate(data.test_class_counts)
            )
            + "."
        ),
        Heading("Comparison", 3),
        Table(
            ["variant", "test accuracy", "parameters", "s/epoch", "largest confusion"],
            [
                [
                    v.title,
                    pct(v.accuracy) + seed_spread(v),
                    count(v.summary.n_params),
                    f"{v.seconds_per_epoch:.2f}",
                    v.top_confusions[0].text if v.top_confusions else "none",
                ]
                for v in variants.values()
            ],
            "lrrrl",
        ),
    )
    for variant in variants.values():
        title = variant.title
        variant_section(document, variant)
        document.add(
            Paragraph("**Parameter count, layer by layer:**"),
            *parameter_table(variant),
        )
        heatmap = figure(
            variant,
            "confusion_heatmap",
            f"{title}: confusion matrix (rows: true digit, columns: predicted).",
            620,
        )
        if heatmap:
            document.add(heatmap)
        if variant.top_confusions:
            document.add(
                Paragraph("**Largest confusions** (true digit predicted as another):"),
                BulletList([c.text for c in variant.top_confusions]),
            )
        errors = figure(
            variant,
            "misclassified",
            f"{title}: the test digits misclassified with the highest confidence.",
        )
        if errors:
            document.add(errors)
    document.add(
        Heading("What the numbers show", 3),
        BulletList(conclusions(results)),
    )
