"""The shared train -> evaluate -> track template."""

from pytorch_intro.train_eval.pipeline import create_template, instantiate

__all__ = ["create_template", "instantiate"]
