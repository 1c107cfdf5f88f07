"""The assignment's report, written from the runs' own results.

:func:`build_report` takes each problem's latest results (``None``: its pipeline
never ran) and writes a :class:`~pytorch_intro.reporting.document.Document`: the
run identity, an overview of every variant, then one section per problem, as
its module in :mod:`pytorch_intro.reporting.sections` writes it. A problem's
variants may come from several runs (one variant run alone keeps the others'
latest results): the header and each variant's section name its run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytorch_intro.reporting import sections as report_sections
from pytorch_intro.reporting.document import (
    BulletList,
    Document,
    Heading,
    Image,
    Note,
    Table,
)
from pytorch_intro.reporting.parts import (
    count,
    listing,
    pct,
    provenance,
    training_seeds,
)
from pytorch_intro.reporting.results import ProblemResults, RunIdentity
from pytorch_intro.reporting.sections import Section

TITLE = "Introduction to PyTorch: report"


def _provenance(results: ProblemResults, current: RunIdentity) -> str:
    """The run the results come from; per variant when they come from several."""
    runs: dict[str, tuple[RunIdentity, list[str]]] = {}
    for variant in results.variants.values():
        run = variant.run or results.identity
        runs.setdefault(run.token, (run, []))[1].append(variant.title)
    if len(runs) <= 1:
        run = next(iter(runs.values()))[0] if runs else results.identity
        return provenance(run, current)
    return "; ".join(
        f"{provenance(run, current)} for {listing(titles)}"
        for run, titles in runs.values()
    )


def _different_data(results: ProblemResults) -> dict[str, list[str]]:
    """The variants' titles by the data each was trained on, when that differs."""
    data: dict[str, list[str]] = {}
    for variant in results.variants.values():
        if variant.data is not None:
            data.setdefault(variant.data, []).append(variant.title)
    return data if len(data) > 1 else {}


def _header(
    document: Document,
    identity: RunIdentity,
    sections: Mapping[str, Section],
    available: Mapping[str, ProblemResults],
) -> None:
    run = identity.mlflow_run_id
    lines = [
        f"**Date:** {identity.date}",
        f"**Git commit:** `{identity.git_commit}`"
        if identity.git_commit
        else "**Git commit:** not available (not a git checkout)",
        f"**MLflow run:** `{run}` (experiment {identity.mlflow_experiment_id})"
        + (
            f"; its variants side by side: <{identity.mlflow_variants_url}>"
            if identity.mlflow_variants_url
            else ""
        )
        if run
        else "**MLflow run:** none (tracking off)",
    ]
    for problem, section in sections.items():
        results = available.get(problem)
        if results is None:
            lines.append(f"**{section.title}:** not run yet")
            continue
        lines.append(
            f"**{section.title}:** {section.data_line(results)}; training seed "
            f"{training_seeds(results)}; results from {_provenance(results, identity)}"
            + ("; **variants on different data**" if _different_data(results) else "")
        )
    document.add(BulletList(lines))
    for problem, results in available.items():
        if data := _different_data(results):
            document.add(
                Note(
                    f"The {sections[problem].title}'s variants come from runs on "
                    "different data, so their numbers do not compare directly: "
                    + "; ".join(f"{listing(t)} on {d}" for d, t in data.items())
                    + f". Run `{sections[problem].run_command}` to train them all "
                    "on the same data."
                )
            )
    for problem, section in sections.items():
        if problem not in available:
            document.add(
                Note(
                    f"The {section.title} has no results yet, so its section is "
                    f"missing. Run `{section.run_command}` (or `kedro run` for "
                    "everything) to add it."
                )
            )


def _overview(
    document: Document,
    sections: Mapping[str, Section],
    available: Mapping[str, ProblemResults],
    overview_png: bytes | None,
) -> None:
    document.add(Heading("Overview"))
    if overview_png:
        document.add(
            Image(overview_png, "Validation accuracy per epoch of every variant.")
        )
    rows = [
        [
            sections[problem].title,
            variant.title,
            pct(variant.accuracy),
            count(variant.summary.n_params),
            str(len(variant.history)),
            f"{variant.seconds_per_epoch:.2f}",
        ]
        for problem, results in available.items()
        for variant in results.variants.values()
    ]
    if rows:
        columns = ["problem", "variant", "final val. accuracy", "parameters"]
        document.add(Table([*columns, "epochs", "s/epoch"], rows, "llrrrr"))


def _available(
    sections: Mapping[str, Section], results: Mapping[str, ProblemResults | None]
) -> dict[str, ProblemResults]:
    """The results that exist, in the sections' order."""
    unknown = sorted(set(results) - set(sections))
    if unknown:
        raise ValueError(
            f"results of unknown problem(s) {', '.join(unknown)}; "
            f"known: {', '.join(sections)}"
        )
    available = {p: r for p in sections if (r := results.get(p)) is not None}
    for problem, problem_results in available.items():
        if not isinstance(problem_results, sections[problem].results_type):
            raise TypeError(
                f"{problem}: expected {sections[problem].results_type.__module__}"
                f".Results, got {type(problem_results).__name__}"
            )
    return available


def build_report(
    identity: Mapping[str, Any] | RunIdentity,
    results: Mapping[str, ProblemResults | None],
    overview_png: bytes | None = None,
) -> Document:
    """The report of each problem's latest results (``None`` or absent: never run)."""
    identity = RunIdentity.model_validate(identity)
    sections = report_sections.registry()
    available = _available(sections, results)
    document = Document(TITLE, run=identity)
    _header(document, identity, sections, available)
    if not available:
        return document
    _overview(document, sections, available, overview_png)
    for problem, problem_results in available.items():
        sections[problem].write(document, problem_results)
    return document


def accuracy_curves(
    results: Mapping[str, ProblemResults | None],
) -> dict[str, dict[str, list[float]]]:
    """Validation accuracy per epoch of every variant, per problem (for a figure)."""
    sections = report_sections.registry()
    return {
        sections[problem].title: {
            variant.title: [row.val_accuracy for row in variant.history]
            for variant in problem_results.variants.values()
        }
        for problem, problem_results in _available(sections, results).items()
    }
