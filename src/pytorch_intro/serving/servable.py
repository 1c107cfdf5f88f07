"""A trained classifier wrapped with its own preprocessing, exported with torch.export.

Users (the predict pipeline, an MLflow model, a REST endpoint) hand the model
what they have: 28x28 grey values 0..255 for the digits, (x, y) points for the
2D classifier. The wrapper does what the pipelines did before training
(normalising to [-1, 1]; the polar transform) and turns logits into class
probabilities. ``torch.export`` turns it into an ``ExportedProgram``: a graph
of operators and the weights, saved as a ``.pt2`` archive that loads without
unpickling anything and without this package.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.export import Dim, ExportedProgram


class DigitsClassifier(nn.Module):
    """(N, 28, 28) grey values 0..255 -> (N, 10) class probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> Tensor:
        # x / 127.5 - 1 in float32, as the pipeline normalised the training digits
        x = images.to(torch.float32).unsqueeze(1) / 127.5 - 1.0
        return torch.softmax(self.model(x), dim=-1)


class PointsClassifier(nn.Module):
    """(N, 2) points (x, y) -> (N, 2) probabilities of class 0 and class 1.

    With ``features="polar"`` the points become (r, phi) first, computed in
    float64 like the pipeline's polar transform.
    """

    def __init__(self, model: nn.Module, features: str) -> None:
        super().__init__()
        if features not in ("xy", "polar"):
            raise ValueError(f"features={features!r}; choose one of: polar, xy")
        self.model = model
        self.polar = features == "polar"

    def forward(self, points: Tensor) -> Tensor:
        if self.polar:
            xy = points.to(torch.float64)
            points = torch.stack(
                [torch.hypot(xy[:, 0], xy[:, 1]), torch.atan2(xy[:, 1], xy[:, 0])],
                dim=1,
            )
        p1 = torch.sigmoid(self.model(points.to(torch.float32)).squeeze(-1))
        return torch.stack([1.0 - p1, p1], dim=1)


@dataclass
class Servable:
    """An exported classifier and what describes its use.

    Attributes:
        program: the ``torch.export`` program: raw inputs -> probabilities.
        input_example: a few real inputs (for the MLflow signature and docs).
        kind: ``digits`` or ``points``.
        classes: the class labels, in the order of the probabilities.
        eval_data: what the model was evaluated on (:func:`fingerprint`):
            models are compared only when this is the same.
    """

    program: ExportedProgram
    input_example: np.ndarray
    kind: str
    classes: list[int]
    eval_data: str = ""

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities for ``inputs`` (as the exported program gives them)."""
        with torch.inference_mode():
            return self.program.module()(torch.as_tensor(inputs)).numpy()


def fingerprint(inputs: np.ndarray, labels: np.ndarray) -> str:
    """A short, stable name of a labelled set: its size and a digest of its values."""
    digest = hashlib.sha256()
    for values in (inputs, labels):
        array = np.ascontiguousarray(values)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return f"{len(labels)} samples, sha256 {digest.hexdigest()[:16]}"


def export_servable(
    model: nn.Module,
    example: np.ndarray,
    kind: str,
    features: str = "xy",
    eval_data: str = "",
) -> Servable:
    """Wrap a trained model (``digits`` or ``points``) and export it, batch size free."""
    wrapper = (
        DigitsClassifier(model)
        if kind == "digits"
        else PointsClassifier(model, features)
    ).eval()
    example = np.ascontiguousarray(example, dtype=np.float32)
    sample = torch.from_numpy(example)
    program = torch.export.export(
        wrapper,
        (sample,),
        dynamic_shapes={"images" if kind == "digits" else "points": {0: Dim("batch")}},
    )
    classes = list(range(10 if kind == "digits" else 2))
    return Servable(program, example, kind, classes, eval_data)


def save_program(program: ExportedProgram, path: Path) -> None:
    """Write a ``.pt2`` archive (``torch.export.save``)."""
    torch.export.save(program, str(path))


def load_program(path: Path) -> ExportedProgram:
    """Read a ``.pt2`` archive (``torch.export.load``: no unpickling)."""
    return torch.export.load(str(path))
