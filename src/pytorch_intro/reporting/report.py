"""The assignment's report, written from a run's own results.

Each pipeline condenses its results into a plain, JSON-ready dict (its
"results": data description, run identity and one entry per variant, figures
as base64 PNG). :func:`build_report` turns the results of both pipelines into a
:class:`~pytorch_intro.reporting.document.Document`. The conclusions are
generated from the numbers, and a claim is made only when the numbers carry it:
an accuracy difference counts when it exceeds two standard errors of the
difference on the evaluation set.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytorch_intro.reporting.document import (
    BulletList,
    Document,
    Heading,
    Image,
    ImageRow,
    Note,
    Paragraph,
    Preformatted,
    Table,
)

Results = dict[str, Any]
PROBLEMS = {"simple2d": "2D classifier", "digits": "Digit classifier"}
RUN_COMMANDS = {
    "simple2d": "kedro run --pipelines=simple2d",
    "digits": "kedro run --pipelines=digits",
}
SEPARATED = 0.99  # an accuracy at least this high "separates" the classes
ORIGINS = {"generated": "generated", "assignment": "the assignment's own"}


# --- building results (called by the pipelines' nodes) --------------------------


def encode_png(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def variant_results(
    summary: Mapping[str, Any],
    metrics: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    parameter_counts: Sequence[Mapping[str, Any]],
    n_params_model: int,
    confusion_matrix: Sequence[Sequence[int]],
    top_confusions: Sequence[Mapping[str, Any]],
    figures: Mapping[str, bytes],
) -> Results:
    """One variant's results, as plain JSON-ready values."""
    return {
        "summary": dict(summary),
        "metrics": dict(metrics),
        "history": [dict(row) for row in history],
        "parameter_counts": [dict(row) for row in parameter_counts],
        "n_params_model": int(n_params_model),
        "confusion_matrix": [[int(v) for v in row] for row in confusion_matrix],
        "top_confusions": [dict(c) for c in top_confusions],
        "figures": {name: encode_png(png) for name, png in figures.items()},
    }


def problem_results(
    problem: str,
    identity: Mapping[str, Any],
    data: Mapping[str, Any],
    variants: Mapping[str, Results],
    figures: Mapping[str, bytes] | None = None,
) -> Results:
    """A pipeline's results: its run identity, data description and variants."""
    if problem not in PROBLEMS:
        raise ValueError(f"problem={problem!r}; choose one of: {', '.join(PROBLEMS)}")
    return {
        "problem": problem,
        "identity": dict(identity),
        "data": dict(data),
        "figures": {name: encode_png(png) for name, png in (figures or {}).items()},
        "variants": dict(variants),
    }


# --- formatting --------------------------------------------------------------------


def _pct(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f}%"


def _int(value: int) -> str:
    return f"{int(value):,}"


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _png(encoded: str) -> bytes:
    return base64.b64decode(encoded)


def _figure(
    results: Results, name: str, caption: str, width: int | None = None
) -> Image | None:
    encoded = results.get("figures", {}).get(name)
    return Image(_png(encoded), caption, width) if encoded else None


def epoch_listing(history: Sequence[Mapping[str, float]]) -> str:
    """The assignment's ``[Epoch 01] Loss / Acc.`` listing, one line per epoch.

    ``Loss`` is the mean training loss of the epoch, ``Acc.`` the validation
    accuracy after it, as in the assignment; the validation loss and the
    epoch's training time follow.
    """
    return "\n".join(
        f"[Epoch {int(row['epoch']):02d}]  Loss: {row['train_loss']:.4f}  "
        f"Acc.: {100 * row['val_accuracy']:8.4f}%  "
        f"(val. loss {row['val_loss']:.4f}, {row['train_seconds']:.2f} s)"
        for row in history
    )


def _accuracy(variant: Results) -> float:
    return float(variant["metrics"]["val_accuracy"])


def _n_eval(variant: Results) -> int:
    return int(variant["metrics"]["n_samples"])


def seed_spread(variant: Results) -> str:
    """ " (N seeds: mean ± std)" of the final accuracy, when several seeds trained."""
    last = variant["history"][-1] if variant["history"] else {}
    if "val_accuracy_std" not in last:
        return ""
    seeds = variant["summary"].get("seeds", "several")
    return (
        f" ({seeds} seeds: {_pct(last['val_accuracy_mean'])} ± "
        f"{_pct(last['val_accuracy_std'])})"
    )


def _seconds_per_epoch(variant: Results) -> float:
    seconds = [row["train_seconds"] for row in variant["history"]]
    return sum(seconds) / len(seconds) if seconds else float("nan")


def _architecture(variant: Results) -> dict[str, Any]:
    return json.loads(variant["summary"]["architecture"])


def differs(p1: float, n1: int, p2: float, n2: int) -> bool:
    """Whether two accuracies differ by more than two standard errors."""
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return abs(p1 - p2) > 2 * se


def _still_improving(variant: Results, window: int = 3) -> float | None:
    """Accuracy points gained over the last ``window`` epochs, if significant."""
    accuracy = [row["val_accuracy"] for row in variant["history"]]
    if len(accuracy) <= window:
        return None
    start, end, n = accuracy[-1 - window], accuracy[-1], _n_eval(variant)
    return 100 * (end - start) if end > start and differs(end, n, start, n) else None


# --- the report ----------------------------------------------------------------------


def _provenance(results: Results, current: Mapping[str, Any]) -> str:
    identity = results.get("identity", {})
    if identity.get("token") == current.get("token"):
        return "this run"
    run = identity.get("mlflow_run_id")
    tracked = f", MLflow run `{run}`" if run else ""
    return f"an earlier run ({identity.get('date', 'date unknown')}{tracked})"


def _data_line(problem: str, results: Results, files: bool = False) -> str:
    data = results["data"]
    if problem == "simple2d":
        seed = (
            f", generator seed {data['seed']}" if data.get("seed") is not None else ""
        )
        source = f"`{data['train_source']}`; " if files else ""
        return (
            f"{ORIGINS.get(data['origin'], data['origin'])} point sets ({source}{_int(data['n_train'])} train / "
            f"{_int(data['n_valid'])} validation{seed})"
        )
    return (
        f"{data['train_source']} ({_int(data['n_train'])} train / "
        f"{_int(data['n_test'])} test)"
    )


def _seeds(results: Results) -> str:
    seeds = sorted({str(v["summary"]["seed"]) for v in results["variants"].values()})
    return ", ".join(seeds) or "n/a"


def _header(
    document: Document, identity: Mapping[str, Any], available: Mapping[str, Results]
) -> None:
    run = identity.get("mlflow_run_id")
    lines = [
        f"**Date:** {identity.get('date', 'unknown')}",
        f"**Git commit:** `{identity['git_commit']}`"
        if identity.get("git_commit")
        else "**Git commit:** not available (not a git checkout)",
        f"**MLflow run:** `{run}` (experiment {identity.get('mlflow_experiment_id')})"
        if run
        else "**MLflow run:** none (tracking off)",
    ]
    for problem, label in PROBLEMS.items():
        results = available.get(problem)
        if results is None:
            lines.append(f"**{label}:** not run yet")
            continue
        lines.append(
            f"**{label}:** {_data_line(problem, results)}; training seed "
            f"{_seeds(results)}; results from {_provenance(results, identity)}"
        )
    document.add(BulletList(lines))
    for problem, label in PROBLEMS.items():
        if problem not in available:
            document.add(
                Note(
                    f"The {label} has no results yet, so its section is "
                    f"missing. Run `{RUN_COMMANDS[problem]}` (or `kedro run` for "
                    "everything) to add it."
                )
            )


def _overview(
    document: Document, available: Mapping[str, Results], overview_png: bytes | None
) -> None:
    document.add(Heading("Overview"))
    if overview_png:
        document.add(
            Image(overview_png, "Validation accuracy per epoch of every variant.")
        )
    rows = []
    for problem, results in available.items():
        for variant in results["variants"].values():
            rows.append(
                [
                    PROBLEMS[problem],
                    variant["summary"]["title"],
                    _pct(_accuracy(variant)),
                    _int(variant["summary"]["n_params"]),
                    str(len(variant["history"])),
                    f"{_seconds_per_epoch(variant):.2f}",
                ]
            )
    if rows:
        document.add(
            Table(
                [
                    "problem",
                    "variant",
                    "final val. accuracy",
                    "parameters",
                    "epochs",
                    "s/epoch",
                ],
                rows,
                "llrrrr",
            )
        )


def _variant_section(document: Document, variant: Results, level: int = 3) -> None:
    summary = variant["summary"]
    document.add(
        Heading(summary["title"], level),
        Paragraph(
            f"{_int(summary['n_params'])} parameters; {summary['epochs']} epochs of "
            f"Adam (lr {summary['lr']}, batch {summary['batch_size']}) on "
            f"{_int(summary['n_train'])} samples; final validation accuracy "
            f"**{_pct(_accuracy(variant))}** on {_int(_n_eval(variant))} samples"
            f"{seed_spread(variant)}."
        ),
        Preformatted(epoch_listing(variant["history"])),
    )
    curves = _figure(
        variant, "learning_curves", f"{summary['title']}: learning curves.", 820
    )
    if curves:
        document.add(curves)


# 2D classifier --------------------------------------------------------------------


def _verdict(accuracy: float, chance: float, n: int) -> str:
    if accuracy <= chance or not differs(accuracy, n, chance, n):
        return f"no better than chance (the larger class is {_pct(chance, 1)})"
    if accuracy >= SEPARATED:
        return "separates the classes"
    return f"better than chance, but misclassifies {_pct(1 - accuracy, 1)} of points"


def _better(a: Results, b: Results) -> bool:
    """Whether ``a`` is more accurate than ``b`` beyond noise."""
    return _accuracy(a) > _accuracy(b) and differs(
        _accuracy(a), _n_eval(a), _accuracy(b), _n_eval(b)
    )


def _feature_claims(
    variants: Mapping[str, Results], features: Mapping[str, str]
) -> list[str]:
    """The same model on polar features against x-y features."""
    lines = []
    for polar_name, polar in variants.items():
        for xy_name, xy in variants.items():
            same_model = _architecture(xy) == _architecture(polar)
            pair = (features.get(polar_name), features.get(xy_name))
            if pair == ("polar", "xy") and same_model and _better(polar, xy):
                lines.append(
                    "The polar transform is what makes the classes linearly "
                    f"separable: the same model goes from {_pct(_accuracy(xy))} on "
                    f"(x, y) to {_pct(_accuracy(polar))} on (r, phi)."
                )
    return lines


def _hidden_layer_claims(
    variants: Mapping[str, Results], features: Mapping[str, str]
) -> list[str]:
    """A model with hidden layers against a linear one, both on x-y features."""
    on_xy = [v for name, v in variants.items() if features.get(name) == "xy"]
    lines = []
    for deep, linear in itertools.permutations(on_xy, 2):
        hidden = _architecture(deep).get("hidden_sizes")
        if (
            hidden
            and not _architecture(linear).get("hidden_sizes")
            and _better(deep, linear)
        ):
            lines.append(
                "Hidden layers with ReLU bend the boundary around the disc "
                f"without new features: the {deep['summary']['title']} "
                f"({_int(deep['summary']['n_params'])} parameters) reaches "
                f"{_pct(_accuracy(deep))} where the linear model "
                f"({_int(linear['summary']['n_params'])} parameters) reaches "
                f"{_pct(_accuracy(linear))}."
            )
    return lines


def simple2d_conclusions(results: Results) -> list[str]:
    """Statements the 2D results support (each one checked against the numbers)."""
    data, variants = results["data"], results["variants"]
    counts = [int(c) for c in data["class_counts"]]
    chance = max(counts) / sum(counts)
    lines = [
        f"**{v['summary']['title']}:** {_pct(_accuracy(v))}, "
        f"{_verdict(_accuracy(v), chance, _n_eval(v))}."
        for v in variants.values()
    ]
    if data["threshold_accuracy"] >= 1.0:
        lines.append(
            f"One radius, r = {data['threshold']:.2f}, splits the validation "
            "points exactly by class: a straight line in (phi, r) separates the "
            "classes, while in (x, y) the boundary is a circle, which no straight "
            "line can follow."
        )
    else:
        lines.append(
            f"The best single radius r = {data['threshold']:.2f} classifies "
            f"{_pct(data['threshold_accuracy'], 1)} of the validation points: the "
            "classes overlap in r."
        )
    features = data.get("features", {})
    lines += _feature_claims(variants, features)
    lines += _hidden_layer_claims(variants, features)
    for variant in variants.values():
        gain = _still_improving(variant)
        if gain is not None:
            lines.append(
                f"{variant['summary']['title']} was still improving at the last "
                f"epoch (+{gain:.1f} points over the last 3): more epochs would help."
            )
    return lines


def _simple2d_section(document: Document, results: Results) -> None:
    data = results["data"]
    document.add(
        Heading("2D classifier: disc against ring"),
        Heading("Data", 3),
        Paragraph(
            f"{_capitalized(_data_line('simple2d', results, files=True))}. Class 0 is a disc, class 1 a ring "
            f"around it; validation classes: {data['class_counts'][0]} and "
            f"{data['class_counts'][1]} points. Radii in the validation set: class 0 "
            f"{data['radius'][0][0]:.2f}-{data['radius'][0][1]:.2f}, class 1 "
            f"{data['radius'][1][0]:.2f}-{data['radius'][1][1]:.2f}."
        ),
    )
    points = _figure(
        results,
        "point_sets",
        "Validation points in x-y (left) and in polar coordinates (right), with "
        "the best single radius as a dashed line.",
    )
    if points:
        document.add(points)
    for variant in results["variants"].values():
        _variant_section(document, variant)
    boundaries = [
        image
        for variant in results["variants"].values()
        if (image := _figure(variant, "decision_boundary", variant["summary"]["title"]))
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
        BulletList(simple2d_conclusions(results)),
    )


# Digit classifier -------------------------------------------------------------------


def digits_conclusions(results: Results) -> list[str]:
    """Statements the digits results support (each one checked against the numbers)."""
    variants = list(results["variants"].values())
    lines = []
    if variants:
        best = max(variants, key=_accuracy)
        lines.append(
            f"Best test accuracy: **{best['summary']['title']}**, "
            f"{_pct(_accuracy(best))} ({_int(best['summary']['n_params'])} parameters)."
        )
    for a, b in itertools.permutations(variants, 2):
        pa, pb = _accuracy(a), _accuracy(b)
        na, nb = a["summary"]["n_params"], b["summary"]["n_params"]
        if not differs(pa, _n_eval(a), pb, _n_eval(b)):
            if pa > pb:  # each pair once
                lines.append(
                    f"The {a['summary']['title']} and the {b['summary']['title']} "
                    f"are within noise of each other ({_pct(pa)} against {_pct(pb)} "
                    f"on {_int(_n_eval(a))} test digits)."
                )
        elif pa > pb and na < nb:
            lines.append(
                f"The {a['summary']['title']} beats the {b['summary']['title']} "
                f"({_pct(pa)} against {_pct(pb)}) with {na / nb:.0%} of its "
                f"parameters ({_int(na)} against {_int(nb)})."
            )
    tops = {
        v["summary"]["title"]: v["top_confusions"][0]
        for v in variants
        if v["top_confusions"]
    }
    pairs = {(c["true"], c["predicted"]) for c in tops.values()}
    if len(tops) > 1 and len(pairs) == 1:
        true, predicted = pairs.pop()
        lines.append(
            f"Every variant's most frequent error is the same: a {true} read as "
            f"a {predicted}."
        )
    if len(variants) > 1:
        slow = max(variants, key=_seconds_per_epoch)
        fast = min(variants, key=_seconds_per_epoch)
        lines.append(
            f"Training cost: {_seconds_per_epoch(slow):.1f} s per epoch for the "
            f"{slow['summary']['title']}, {_seconds_per_epoch(fast):.1f} s for the "
            f"{fast['summary']['title']}."
        )
    for variant in variants:
        gain = _still_improving(variant)
        if gain is not None:
            lines.append(
                f"{variant['summary']['title']} was still improving at the last "
                f"epoch (+{gain:.1f} points over the last 3)."
            )
    return lines


def _parameter_table(variant: Results) -> list[Any]:
    rows = [
        [
            str(row["layer"]),
            str(row["kind"]),
            str(row["formula"]),
            _int(row["weights"]),
            _int(row["biases"]),
            _int(row["params"]),
        ]
        for row in variant["parameter_counts"]
        if row["params"]
    ]
    total = sum(int(row["params"]) for row in variant["parameter_counts"])
    rows.append(["**total**", "", "", "", "", f"**{_int(total)}**"])
    own = variant["n_params_model"]
    check = "the same" if own == total else f"DIFFERENT from the formulas' {total}"
    return [
        Table(
            ["layer", "kind", "formula", "weights", "biases", "parameters"],
            rows,
            "lllrrr",
        ),
        Paragraph(
            f"PyTorch's own count, `sum(p.numel() for p in model.parameters())`: "
            f"{_int(own)}, {check}. Layers without parameters (ReLU, pooling, "
            "flatten) are left out of the table."
        ),
    ]


def _digits_section(document: Document, results: Results) -> None:
    data, variants = results["data"], results["variants"]
    document.add(
        Heading("Digit classifier: MNIST"),
        Heading("Data", 3),
        Paragraph(
            f"{_data_line('digits', results)}. Images are 28x28 grey levels "
            f"0..255, normalised to [-1, 1] as x / 127.5 - 1; test-set classes: "
            + ", ".join(
                f"{digit}: {_int(n)}"
                for digit, n in enumerate(data["test_class_counts"])
            )
            + "."
        ),
        Heading("Comparison", 3),
        Table(
            ["variant", "test accuracy", "parameters", "s/epoch", "largest confusion"],
            [
                [
                    v["summary"]["title"],
                    _pct(_accuracy(v)) + seed_spread(v),
                    _int(v["summary"]["n_params"]),
                    f"{_seconds_per_epoch(v):.2f}",
                    v["top_confusions"][0]["text"] if v["top_confusions"] else "none",
                ]
                for v in variants.values()
            ],
            "lrrrl",
        ),
    )
    for variant in variants.values():
        title = variant["summary"]["title"]
        _variant_section(document, variant)
        document.add(
            Paragraph("**Parameter count, layer by layer:**"),
            *_parameter_table(variant),
        )
        heatmap = _figure(
            variant,
            "confusion_heatmap",
            f"{title}: confusion matrix (rows: true digit, columns: predicted).",
            620,
        )
        if heatmap:
            document.add(heatmap)
        if variant["top_confusions"]:
            document.add(
                Paragraph("**Largest confusions** (true digit predicted as another):"),
                BulletList([c["text"] for c in variant["top_confusions"]]),
            )
        errors = _figure(
            variant,
            "misclassified",
            f"{title}: the test digits misclassified with the highest confidence.",
        )
        if errors:
            document.add(errors)
    document.add(
        Heading("What the numbers show", 3),
        BulletList(digits_conclusions(results)),
    )


def build_report(
    identity: Mapping[str, Any],
    simple2d: Results | None,
    digits: Results | None,
    overview_png: bytes | None = None,
) -> Document:
    """The report of the latest results of each pipeline (``None``: never run)."""
    available = {
        problem: results
        for problem, results in (("simple2d", simple2d), ("digits", digits))
        if results is not None
    }
    document = Document("Introduction to PyTorch: report")
    _header(document, identity, available)
    if not available:
        return document
    _overview(document, available, overview_png)
    if "simple2d" in available:
        _simple2d_section(document, available["simple2d"])
    if "digits" in available:
        _digits_section(document, available["digits"])
    return document


def accuracy_curves(
    simple2d: Results | None, digits: Results | None
) -> dict[str, dict[str, list[float]]]:
    """Validation accuracy per epoch of every variant, per problem (for a figure)."""
    return {
        PROBLEMS[problem]: {
            variant["summary"]["title"]: [
                row["val_accuracy"] for row in variant["history"]
            ]
            for variant in results["variants"].values()
        }
        for problem, results in (("simple2d", simple2d), ("digits", digits))
        if results is not None
    }
