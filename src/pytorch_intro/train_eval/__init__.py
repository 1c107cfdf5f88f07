"""The shared train -> evaluate -> track template."""

from pytorch_intro.train_eval.pipeline import (
    bind,
    create_template,
    instantiate,
    results_node,
)

__all__ = ["bind", "create_template", "instantiate", "results_node"]
