"""The code of the project's MLflow models (an MLflow "model from code").

MLflow stores this file, as text, in every logged model and runs it when the
model is loaded (``mlflow.pyfunc.load_model``, ``mlflow models serve``); the
project itself never imports it. It
defines a ``PythonModel`` that reads the model's network from its ``.pt2``
artifact with ``torch.export.load``. Nothing is unpickled on the way, and the
model needs torch, numpy, pandas and MLflow, not this project's package.

``predict`` takes what a user has: an array of 28x28 grey images (0..255)
for the digits, or a DataFrame of points with columns ``x`` and ``y`` for the
2D classifier, and returns one row per input: ``class``
(the most probable one), ``probability`` (its probability) and
``probabilities`` (one per class). An input with a value that is not a finite
number (NaN, infinity, a missing ``x`` or ``y``) is refused with an
``MlflowException`` (``INVALID_PARAMETER_VALUE``: HTTP 400 when served) rather
than answered with NaN probabilities; MLflow's schema enforcement, before
``predict``, refuses wrong shapes, columns and types the same way. The
signature declares float32 images (convert uint8 ones with ``.astype``) and
float64 ``x``/``y`` columns (float32 ones are accepted too); the network
computes in float32.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE


class ExportedClassifier(mlflow.pyfunc.PythonModel):
    """Class probabilities from the exported network in the ``program`` artifact."""

    def load_context(self, context) -> None:
        self.network = torch.export.load(context.artifacts["program"]).module()

    # MLflow hands a DataFrame (points) or, for a tensor signature, an ndarray
    # (digits) through unchanged: a hint from its no-inference list keeps the
    # signature's schema enforcement (any other hint would replace it).
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        if isinstance(model_input, pd.DataFrame):
            model_input = model_input[["x", "y"]].to_numpy()
        # a writable C-ordered copy: a DataFrame's values may come column-major,
        # which would change the kernels (and the last bits of the results)
        inputs = np.array(model_input, dtype=np.float32, order="C")
        finite = np.isfinite(inputs)
        if not finite.all():
            raise MlflowException(
                f"{int((~finite).sum())} input value(s) are not finite numbers "
                "(NaN, infinity or missing): every pixel or coordinate must be a number",
                error_code=INVALID_PARAMETER_VALUE,
            )
        with torch.inference_mode():
            return predictions(self.network(torch.from_numpy(inputs)).numpy())


def predictions(probabilities: np.ndarray) -> pd.DataFrame:
    """One row per input: the most probable class, its probability, all of them."""
    classes = probabilities.argmax(axis=1)
    return pd.DataFrame(
        {
            "class": classes.astype(np.int64),
            "probability": probabilities[np.arange(len(classes)), classes],
            "probabilities": list(probabilities),
        }
    )


mlflow.models.set_model(ExportedClassifier())
