"""The report: the assignment's write-up, generated from the latest results."""

from pytorch_intro.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
