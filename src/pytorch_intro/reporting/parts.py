"""What every problem's report section is made of: number formats, the
statistics behind each claim, and the blocks shared by all problems. A claim is
made only when an accuracy difference exceeds two standard errors.
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

PARAMETER_COLUMNS = ("layer", "kind", "formula", "weights", "biases", "parameters")


def pct(value: float, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.9851`` -> ``98.51%``."""
    return f"{100 * value:.{digits}f}%"


def count(value: int) -> str:
    """An integer with thousands separators: ``60000`` -> ``60,000``."""
    return f"{int(value):,}"


def listing(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, [", ".join(items[:-1]), *items[-1:]]))


def provenance(run: RunIdentity, current: RunIdentity) -> str:
    """``this run`` or ``an earlier run (date, MLflow run `id`)``."""
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
    path = results.figures.get(name)
    return Image(path, caption, width) if path else None


def epoch_listing(history: Sequence[HistoryRow]) -> str:
    """The assignment's ``[Epoch 01] Loss / Acc.`` listing (mean training loss,
    validation accuracy), then the validation loss and the epoch's time."""
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
        f" ({variant.training.seeds} seeds: {pct(last.val_accuracy_mean)} ± "
        f"{pct(last.val_accuracy_std)})"
    )


def dead_units(variant: VariantResults) -> str:
    """``; dead ReLU units: 14 of 32`` (channels, for convolutions), or nothing
    for a model without ReLU (training/evaluation.py: ``dead_units_of``)."""
    dead, total = variant.metrics.dead_relu_units, variant.metrics.relu_units
    if total is None:
        return ""
    units = "channels" if variant.model.channels else "units"
    return f"; dead ReLU {units}: {dead} of {total}"


def differs(p1: float, n1: int, p2: float, n2: int) -> bool:
    """Whether two accuracies differ by more than two standard errors."""
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return abs(p1 - p2) > 2 * se


def better(a: VariantResults, b: VariantResults) -> bool:
    """Whether ``a`` is more accurate than ``b`` beyond noise."""
    return a.accuracy > b.accuracy and differs(
        a.accuracy, a.n_eval, b.accuracy, b.n_eval
    )


def still_improving_claims(
    variants: Iterable[VariantResults], advice: str = "", window: int = 3
) -> list[str]:
    """A sentence for each variant whose accuracy rose significantly over its
    last ``window`` epochs, then ``advice``."""
    lines = []
    for variant in variants:
        accuracy, n = [row.val_accuracy for row in variant.history], variant.n_eval
        if len(accuracy) <= window:
            continue
        start, end = accuracy[-1 - window], accuracy[-1]
        if end > start and differs(end, n, start, n):
            lines.append(
                f"{variant.title} was still improving at the last epoch "
                f"(+{100 * (end - start):.1f} points over the last {window}){advice}."
            )
    return lines


def variant_section(
    document: Document, variant: VariantResults, level: int = 3
) -> None:
    """A variant's heading, settings, dead ReLU units and accuracy, the run it
    comes from (and its data, if an earlier run's) in a run's report, epoch
    listing and curves."""
    training, run, current = variant.training, variant.run, document.run
    origin = ""
    if current is not None and run is not None:
        earlier = run.token != current.token
        data = f", on {variant.data}" if variant.data and earlier else ""
        origin = f" Results from {provenance(run, current)}{data}."
    document.add(
        Heading(variant.title, level),
        Paragraph(
            f"{count(variant.n_params)} parameters; {training.epochs} epochs of "
            f"Adam (lr {training.lr}, batch {training.batch_size}) on "
            f"{count(variant.n_train)} samples{dead_units(variant)}; final "
            f"validation accuracy **{pct(variant.accuracy)}** on "
            f"{count(variant.n_eval)} samples{seed_spread(variant)}.{origin}"
        ),
        Preformatted(epoch_listing(variant.history)),
        figure(variant, "learning_curves", f"{variant.title}: learning curves.", 820),
    )


def parameter_table(variant: VariantResults) -> list[Block]:
    """Each layer's parameters by formula, checked against PyTorch's own count."""
    rows = [
        [r.layer, r.kind, r.formula, *map(count, (r.weights, r.biases, r.params))]
        for r in variant.parameter_counts
        if r.params
    ]
    total = variant.n_params
    rows.append(["**total**", "", "", "", "", f"**{count(total)}**"])
    own = variant.n_params_model
    check = "the same" if own == total else f"DIFFERENT from the formulas' {total}"
    return [
        Table(PARAMETER_COLUMNS, rows, "lllrrr"),
        Paragraph(
            f"PyTorch's own count, `sum(p.numel() for p in model.parameters())`: "
            f"{count(own)}, {check}. Layers without parameters (ReLU, pooling, "
            "flatten) are left out of the table."
        ),
    ]
