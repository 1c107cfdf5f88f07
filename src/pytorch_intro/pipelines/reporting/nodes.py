"""Nodes of the reporting pipeline."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from pytorch_intro.reporting import plot_accuracy_overview as _plot_overview
from pytorch_intro.reporting.document import Document
from pytorch_intro.reporting.html import to_html
from pytorch_intro.reporting.report import accuracy_curves, build_report
from pytorch_intro.reporting.results import ProblemResults


def plot_accuracy_overview(**results: ProblemResults | None) -> Figure:
    """Validation accuracy per epoch of every variant that has results."""
    return _plot_overview(accuracy_curves(results))


def write_report(
    identity: dict[str, Any], accuracy_overview: str, **results: ProblemResults | None
) -> tuple[Document, str]:
    """The report (``accuracy_overview``: the figure's PNG file), for its Markdown
    file (the catalog knows where it lies, and so the figures' relative paths),
    and as one self-contained HTML page."""
    document = build_report(identity, results, accuracy_overview)
    return document, to_html(document)
