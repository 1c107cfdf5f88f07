"""A trained classifier wrapped with its own preprocessing, exported with torch.export.

Users (the predict pipeline, an MLflow model, a REST endpoint) hand the model
what they have: 28x28 grey values 0..255 for the digits, (x, y) points for the
2D classifier. The wrapper applies the variant's preprocessing (the very module
the training data went through) and turns logits into class probabilities.
``torch.export`` turns it into an ``ExportedProgram``: a graph of operators and
the weights, saved as a ``.pt2`` archive that loads without unpickling anything
and without this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.export import Dim, ExportedProgram

from pytorch_intro.models.preprocessing import FEATURES
from pytorch_intro.training.objectives import class_probabilities

#: The model code of the logged MLflow models (stored in them as text).
MODEL_CODE = Path(__file__).with_name("mlflow_model.py")


class Classifier(nn.Module):
    """Raw inputs -> (N, K) class probabilities: preprocessing, network, probabilities."""

    def __init__(self, model: nn.Module, features: str) -> None:
        super().__init__()
        if features not in FEATURES:
            raise ValueError(
                f"features={features!r}; choose one of: {', '.join(FEATURES)}"
            )
        self.preprocess = FEATURES[features]()
        self.model = model

    def forward(self, inputs: Tensor) -> Tensor:
        return class_probabilities(
            self.model(self.preprocess(inputs).to(torch.float32))
        )


@dataclass
class Servable:
    """An exported classifier and what describes its use.

    Attributes:
        program: the ``torch.export`` program: raw inputs -> probabilities.
        input_example: a few real inputs (for the MLflow signature and docs).
        kind: what the inputs are (``digits``, ``points``): a model is refused
            for inputs of another kind.
        classes: the class labels, in the order of the probabilities.
    """

    program: ExportedProgram
    input_example: np.ndarray
    kind: str
    classes: list[int]

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities for ``inputs`` (as the exported program gives them)."""
        with torch.inference_mode():
            return self.program.module()(torch.as_tensor(inputs)).numpy()


def export_servable(
    model: nn.Module,
    features: str,
    inputs: np.ndarray,
    kind: str,
) -> Servable:
    """Wrap a trained model with its ``features`` preprocessing and export it
    (batch size free); ``inputs``: raw inputs, its first two the example."""
    wrapper = Classifier(model, features).eval()
    example = np.ascontiguousarray(inputs[:2], dtype=np.float32)
    sample = torch.from_numpy(example)
    program = torch.export.export(
        wrapper, (sample,), dynamic_shapes=({0: Dim("batch")},)
    )
    with torch.inference_mode():
        classes = list(range(wrapper(sample).shape[1]))
    return Servable(program, example, kind, classes)


def save_program(program: ExportedProgram, path: Path) -> None:
    """Write a ``.pt2`` archive (``torch.export.save``)."""
    torch.export.save(program, str(path))


def load_program(path: Path) -> ExportedProgram:
    """Read a ``.pt2`` archive (``torch.export.load``: no unpickling)."""
    return torch.export.load(str(path))
