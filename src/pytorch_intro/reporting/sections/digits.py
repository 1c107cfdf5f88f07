"""The digit classifier's section: linear, MLP and CNN on the digits data set."""

from __future__ import annotations

import itertools
import os
from typing import ClassVar, Literal

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

COMPARISON = ["variant", "test accuracy", "parameters", "s/epoch", "largest confusion"]


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

    @property
    def name(self) -> str:
        """The data set's name: what both sources share before their own parts
        (``MNIST subset (...), train part`` -> ``MNIST subset (...)``)."""
        sources = [self.train_source + ",", self.test_source + ","]
        shared = os.path.commonprefix(sources).rpartition(",")[0]
        return shared or " / ".join(dict.fromkeys(s[:-1] for s in sources))


class Results(ProblemResults[Data]):
    problem: Literal["digits"] = "digits"
    title: ClassVar[str] = "Digit classifier"
    order: ClassVar[int] = 20

    def data_line(self) -> str:
        """E.g. "MNIST (canonical files) (60,000 train / 10,000 test)"."""
        data = self.data
        return f"{data.train_source} ({count(data.n_train)} train / {count(data.n_test)} test)"

    def write(self, document: Document) -> None:
        """The section: data, comparison, each variant in detail, conclusions."""
        data, variants = self.data, self.variants.values()
        counts = enumerate(data.test_class_counts)
        classes = ", ".join(f"{digit}: {count(n)}" for digit, n in counts)
        document.add(
            Heading(f"Digit classifier: {data.name}"),
            Heading("Data", 3),
            Paragraph(
                f"{self.data_line()}. Images are 28x28 grey levels 0..255, "
                f"normalised to [-1, 1] as x / 127.5 - 1; test-set classes: {classes}."
            ),
            Heading("Comparison", 3),
            Table(
                COMPARISON,
                [
                    [
                        v.title,
                        pct(v.accuracy) + seed_spread(v),
                        count(v.n_params),
                        f"{v.seconds_per_epoch:.2f}",
                        v.top_confusions[0].text if v.top_confusions else "none",
                    ]
                    for v in variants
                ],
                "lrrrl",
            ),
        )
        for variant in variants:
            title, confusions = variant.title, variant.top_confusions
            variant_section(document, variant)
            document.add(
                Paragraph("**Parameter count, layer by layer:**"),
                *parameter_table(variant),
                figure(
                    variant,
                    "confusion_heatmap",
                    f"{title}: confusion matrix (rows: true digit, columns: predicted).",
                    620,
                ),
                Paragraph("**Largest confusions** (true digit predicted as another):")
                if confusions
                else None,
                BulletList([c.text for c in confusions]) if confusions else None,
                figure(
                    variant,
                    "misclassified",
                    f"{title}: the test digits misclassified with the highest confidence.",
                ),
            )
        document.add(Heading("What the numbers show", 3), BulletList(conclusions(self)))


def conclusions(results: Results) -> list[str]:
    """Statements the digits results support (each one checked against the numbers)."""
    variants = list(results.variants.values())
    lines = []
    if variants:
        best = max(variants, key=lambda v: v.accuracy)
        lines.append(
            f"Best test accuracy: **{best.title}**, "
            f"{pct(best.accuracy)} ({count(best.n_params)} parameters)."
        )
    for a, b in itertools.permutations(variants, 2):
        pa, pb = a.accuracy, b.accuracy
        na, nb = a.n_params, b.n_params
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
