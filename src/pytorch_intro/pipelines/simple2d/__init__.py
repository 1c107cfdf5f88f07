"""The 2D classifier pipeline."""

from pytorch_intro.pipelines.simple2d.pipeline import VARIANTS, create_pipeline

__all__ = ["VARIANTS", "create_pipeline"]
