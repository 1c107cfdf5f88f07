"""The assignment's report, written from each problem's latest results: the run
identity, an overview of every variant, then one section per problem
(:mod:`pytorch_intro.reporting.sections`). A problem's variants may come from
several runs: the header and each variant's section name its run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytorch_intro.reporting import sections
from pytorch_intro.reporting.document import (
    Block,
    BulletList,
    Document,
    Heading,
    Image,
    Note,
    Table,
)
from pytorch_intro.reporting.parts import count, listing, pct, provenance
from pytorch_intro.reporting.results import ProblemResults, RunIdentity

TITLE = "Introduction to PyTorch: report"
OVERVIEW_COLUMNS = ("problem", "variant", "final val. accuracy", "parameters")


def _provenance(results: ProblemResults, current: RunIdentity) -> str:
    """The run the results come from; per variant when they come from several."""
    variants = results.variants.values()
    runs = {v.run.token: v.run for v in variants}  # each variant knows its run
    if len(runs) <= 1:
        return provenance(results.identity, current)
    return "; ".join(
        f"{provenance(run, current)} for "
        f"{listing([v.title for v in variants if v.run.token == token])}"
        for token, run in runs.items()
    )


def _different_data(results: ProblemResults) -> dict[str, list[str]]:
    """The variants' titles by the data each was trained on, when that differs."""
    data: dict[str, list[str]] = {}
    for variant in results.variants.values():
        if variant.data is not None:
            data.setdefault(variant.data, []).append(variant.title)
    return data if len(data) > 1 else {}


def _header(
    identity: RunIdentity, available: Mapping[str, ProblemResults]
) -> list[Block]:
    """The run identity and each problem's data and runs, then notes on what is
    missing or does not compare."""
    run, url = identity.mlflow_run_id, identity.mlflow_variants_url
    commit = f"`{identity.git_commit}`" if identity.git_commit else None
    lines = [
        f"**Date:** {identity.date}",
        f"**Git commit:** {commit or 'not available (not a git checkout)'}",
        f"**MLflow run:** `{run}` (experiment {identity.mlflow_experiment_id})"
        + (f"; its variants side by side: <{url}>" if url else "")
        if run
        else "**MLflow run:** none (tracking off)",
    ]
    different, missing = [], []
    for problem, section in sections.registry().items():
        if (results := available.get(problem)) is None:
            lines.append(f"**{section.title}:** not run yet")
            missing.append(
                f"The {section.title} has no results yet, so its section is missing. "
                f"Run `{section.run_command()}` (or `kedro run` for everything) to "
                "add it."
            )
            continue
        seeds = sorted({str(v.training.seed) for v in results.variants.values()})
        data = _different_data(results)
        lines.append(
            f"**{section.title}:** {results.data_line()}; training seed "
            f"{', '.join(seeds) or 'n/a'}; results from "
            f"{_provenance(results, identity)}"
            + ("; **variants on different data**" if data else "")
        )
        if data:
            different.append(
                f"The {results.title}'s variants come from runs on different data, "
                "so their numbers do not compare directly: "
                + "; ".join(f"{listing(t)} on {d}" for d, t in data.items())
                + f". Run `{results.run_command()}` to train them all on the same data."
            )
    return [BulletList(lines), *map(Note, different + missing)]


def _available(
    results: Mapping[str, ProblemResults | None],
) -> dict[str, ProblemResults]:
    """The results that exist, in the sections' order."""
    return {p: r for p in sections.registry() if (r := results.get(p)) is not None}


def build_report(
    identity: Mapping[str, Any] | RunIdentity,
    results: Mapping[str, ProblemResults | None],
    overview: str | None = None,
) -> Document:
    """The report of each problem's latest results (``None`` or absent: never run);
    ``overview``: the accuracy overview's PNG file."""
    identity = RunIdentity.model_validate(identity)
    available = _available(results)
    document = Document(TITLE, _header(identity, available), run=identity)
    if not available:
        return document
    rows = [
        [
            problem.title,
            variant.title,
            pct(variant.accuracy),
            count(variant.n_params),
            str(len(variant.history)),
            f"{variant.seconds_per_epoch:.2f}",
        ]
        for problem in available.values()
        for variant in problem.variants.values()
    ]
    caption = "Validation accuracy per epoch of every variant."
    document.add(Heading("Overview"), Image(overview, caption) if overview else None)
    if rows:
        document.add(Table([*OVERVIEW_COLUMNS, "epochs", "s/epoch"], rows, "llrrrr"))
    for problem in available.values():
        problem.write(document)
    return document


def accuracy_curves(
    results: Mapping[str, ProblemResults | None],
) -> dict[str, dict[str, list[float]]]:
    """Validation accuracy per epoch of every variant, per problem (for a figure)."""
    return {
        problem.title: {
            variant.title: [row.val_accuracy for row in variant.history]
            for variant in problem.variants.values()
        }
        for problem in _available(results).values()
    }
