"""What every problem's report section is made of: number formats, the
statistics behind each claim, and the blocks shared by all problems (a
variant's listing and curves, its parameter table, figures).

A claim is made only when the numbers carry it: an accuracy difference counts
when it exceeds two standard errors of the difference on the evaluation set.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from pytorch_intro.reporting.document import (
    Block,
    Document,
    Heading,
    Image,
    Paragraph,
    Preformatted,
    Table,
)
from pytorch_intro.reporting.results import (
    HistoryRow,
    ProblemResults,
    RunIdentity,
    VariantResults,
)

# --- formatting --------------------------------------------------------------------


def pct(value: float, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.9851`` -> ``98.51%``."""
    return f"{100 * value:.{digits}f}%"


def count(value: int) -> str:
    """An integer with thousands separators: ``60000`` -> ``60,000``."""
    return f"{int(value):,}"


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def listing(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, [", ".join(items[:-1]), *items[-1:]]))


def provenance(run: RunIdentity, current: RunIdentity) -> str:
    """Where results come from, seen from the ``current`` run: ``this run`` or
    ``an earlier run (date, MLflow run `id`)``."""
    if run.token == current.token:
        return "this run"
    tracked = f", MLflow run `{run.mlflow_run_id}`" if run.mlflow_run_id else ""
    return f"an earlier run ({run.date}{tracked})"


def figure(
    results: ProblemResults | VariantResults,
    name: str,
    caption: str,
    width: int | None = None,
) -> Image | None:
    """The results' figure ``name`` as an image block, if it has one."""
    png = results.figures.get(name)
    return Image(png, caption, width) if png else None


def epoch_listing(history: Sequence[HistoryRow]) -> str:
    """The assignment's ``[Epoch 01] Loss / Acc.`` listing, one line per epoch.

    ``Loss`` is the mean training loss of the epoch, ``Acc.`` the validation
    accuracy after it, as in the assignment; the validation loss and the
    epoch's training time follow.
    """
    return "\n".join(
        f"[Epoch {row.epoch:02d}]  Loss: {row.train_loss:.4f}  "
        f"Acc.: {100 * row.val_accuracy:8.4f}%  "
        f"(val. loss {row.val_loss:.4f}, {row.train_seconds:.2f} s)"
        for row in history
    )


def seed_spread(variant: VariantResults) -> str:
    """ " (N seeds: mean ± std)" of the final accuracy, when several seeds trained."""
    last = variant.history[-1]
    if last.val_accuracy_mean is None or last.val_accuracy_std is None:
        return ""
    return (
        f" ({variant.summary.seeds} seeds: {pct(last.val_accuracy_mean)} ± "
        f"{pct(last.val_accuracy_std)})"
    )


# --- statistics ----------------------------------------------------------------------


def differs(p1: float, n1: int, p2: float, n2: int) -> bool:
    """Whether two accuracies differ by more than two standard errors."""
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return abs(p1 - p2) > 2 * se


def better(a: VariantResults, b: VariantResults) -> bool:
    """Whether ``a`` is more accurate than ``b`` beyond noise."""
    return a.accuracy > b.accuracy and differs(
        a.accuracy, a.n_eval, b.accuracy, b.n_eval
    )


def still_improving(variant: VariantResults, window: int = 3) -> float | None:
    """Accuracy points gained over the last ``window`` epochs, if significant."""
    accuracy = [row.val_accuracy for row in variant.history]
    if len(accuracy) <= window:
        return None
    start, end, n = accuracy[-1 - window], accuracy[-1], variant.n_eval
    return 100 * (end - start) if end > start and differs(end, n, start, n) else None


def still_improving_claims(
    variants: Iterable[VariantResults], advice: str = "", window: int = 3
) -> list[str]:
    """A sentence for each variant still improving at its last epoch, then ``advice``."""
    return [
        f"{variant.title} was still improving at the last epoch "
        f"(+{gain:.1f} points over the last {window}){advice}."
        for variant in variants
        if (gain := still_improving(variant, window)) is not None
    ]


# --- blocks --------------------------------------------------------------------------


def variant_section(
    document: Document, variant: VariantResults, level: int = 3
) -> None:
    """A variant's heading, settings and accuracy, the run it comes from (in
    the report of a run), epoch listing and curves."""
    summary = variant.summary
    document.add(
        Heading(summary.title, level),
        Paragraph(
            f"{count(summary.n_params)} parameters; {summary.epochs} epochs of "
            f"Adam (lr {summary.lr}, batch {summary.batch_size}) on "
            f"{count(summary.n_train)} samples; final validation accuracy "
            f"**{pct(variant.accuracy)}** on {count(variant.n_eval)} samples"
            f"{seed_spread(variant)}.{_origin(variant, document.run)}"
        ),
        Preformatted(epoch_listing(variant.history)),
    )
    curves = figure(
        variant, "learning_curves", f"{summary.title}: learning curves.", 820
    )
    if curves:
        document.add(curves)


def _origin(variant: VariantResults, current: RunIdentity | None) -> str:
    """The sentence naming the run the variant comes from, and its data if earlier."""
    if current is None or variant.run is None:
        return ""
    earlier = variant.run.token != current.token
    data = f", on {variant.data}" if variant.data and earlier else ""
    return f" Results from {provenance(variant.run, current)}{data}."


def parameter_table(variant: VariantResults) -> list[Block]:
    """Each layer's parameters by formula, checked against PyTorch's own count."""
    rows = [
        [
            row.layer,
            row.kind,
            row.formula,
            count(row.weights),
            count(row.biases),
            count(row.params),
        ]
        for row in variant.parameter_counts
        if row.params
    ]
    total = sum(row.params for row in variant.parameter_counts)
    rows.append(["**total**", "", "", "", "", f"**{count(total)}**"])
    own = variant.n_params_model
    check = "the same" if own == total else f"DIFFERENT from the formulas' {total}"
    return [
        Table(
            ["layer", "kind", "formula", "weights", "biases", "parameters"],
            rows,
            "lllrrr",
        ),
        Paragraph(
            f"PyTorch's own count, `sum(p.numel() for p in model.parameters())`: "
            f"{count(own)}, {check}. Layers without parameters (ReLU, pooling, "
            "flatten) are left out of the table."
        ),
    ]


def training_seeds(results: ProblemResults) -> str:
    """The training seeds of the results' variants, e.g. ``0`` or ``0, 1``."""
    seeds = sorted({str(v.summary.seed) for v in results.variants.values()})
    return ", ".join(seeds) or "n/a"
