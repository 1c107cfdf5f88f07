"""Nodes of the reporting pipeline."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from pytorch_intro.reporting import plot_accuracy_overview as _plot_overview
from pytorch_intro.reporting.document import to_html, to_markdown
from pytorch_intro.reporting.report import Results, accuracy_curves, build_report


def plot_accuracy_overview(simple2d: Results | None, digits: Results | None) -> Figure:
    """Validation accuracy per epoch of every variant that has results."""
    return _plot_overview(accuracy_curves(simple2d, digits))


def write_report(
    identity: dict[str, Any],
    simple2d: Results | None,
    digits: Results | None,
    accuracy_overview: bytes,
) -> tuple[str, str]:
    """The report as Markdown and as self-contained HTML."""
    document = build_report(identity, simple2d, digits, accuracy_overview)
    return to_markdown(document), to_html(document)
