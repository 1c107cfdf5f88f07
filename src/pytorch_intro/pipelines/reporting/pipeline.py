"""The report of the latest results of every problem.

Reads ``<problem>_results`` for every section of the report
(:mod:`pytorch_intro.reporting.sections`): this run's when the run includes
that problem's pipeline, otherwise the latest saved version; a problem whose
pipeline has never run is reported as missing.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from pytorch_intro.pipelines.reporting.nodes import plot_accuracy_overview, write_report
from pytorch_intro.reporting.sections import registry


def create_pipeline(**kwargs) -> Pipeline:
    """The reporting pipeline (namespace ``reporting``)."""
    results = {problem: f"{problem}_results" for problem in registry()}
    return Pipeline(
        [
            Node(
                plot_accuracy_overview,
                results,
                "accuracy_overview",
                name="plot_accuracy_overview",
            ),
            Node(
                write_report,
                {"identity": "run_identity", "accuracy_overview": "accuracy_overview"}
                | results,
                ["report_markdown", "report_html"],
                name="write_report",
            ),
        ],
        namespace="reporting",
        inputs={"run_identity", *results.values()},
    )
