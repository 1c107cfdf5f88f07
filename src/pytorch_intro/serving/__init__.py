"""Trained models as users call them: raw inputs in, class probabilities out."""

from pytorch_intro.serving.servable import (
    MODEL_CODE,
    Classifier,
    Servable,
    export_servable,
    load_program,
    save_program,
)

__all__ = [
    "MODEL_CODE",
    "Classifier",
    "Servable",
    "export_servable",
    "load_program",
    "save_program",
]
