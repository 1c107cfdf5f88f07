"""The digit classifier on MNIST."""

from pytorch_intro.pipelines.digits.pipeline import VARIANTS, create_pipeline

__all__ = ["VARIANTS", "create_pipeline"]
