"""The report of the latest results of every pipeline.

Reads ``simple2d_results`` and ``digits_results``: this run's when the run
includes that pipeline, otherwise the latest saved version; a pipeline that has
never run is reported as missing.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from pytorch_intro.pipelines.reporting.nodes import plot_accuracy_overview, write_report


def create_pipeline(**kwargs) -> Pipeline:
    """The reporting pipeline (namespace ``reporting``)."""
    return Pipeline(
        [
            Node(
                plot_accuracy_overview,
                ["simple2d_results", "digits_results"],
                "accuracy_overview",
                name="plot_accuracy_overview",
            ),
            Node(
                write_report,
                [
                    "run_identity",
                    "simple2d_results",
                    "digits_results",
                    "accuracy_overview",
                ],
                ["report_markdown", "report_html"],
                name="write_report",
            ),
        ],
        namespace="reporting",
        inputs={"run_identity", "simple2d_results", "digits_results"},
    )
