"""Predictions of a trained model on a user's images, IDX file or points."""

from pytorch_intro.pipelines.predict.pipeline import create_pipeline

__all__ = ["create_pipeline"]
