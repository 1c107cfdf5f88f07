"""Each variant's MLflow model: logged in its child run when the variant ends.

An MLflow 3 ``LoggedModel``: a pyfunc "model from code" (``serving/mlflow_model.py``)
around the variant's ``torch.export`` archive, so loading it never unpickles. It
carries a signature, an input example, the run's params and its last epoch's
metrics, for the experiment's Models view to compare the variants.
"""

from __future__ import annotations

import contextlib
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import Array

from pytorch_intro.datasets.servable import load_servable
from pytorch_intro.serving import MODEL_CODE

logger = logging.getLogger(__name__)

#: What the model code's ``predict`` returns, one row per input.
OUTPUTS = Schema(
    [
        ColSpec("long", "class"),
        ColSpec("float", "probability"),
        ColSpec(Array("float"), "probabilities"),
    ]
)
#: What serving a model needs (``mlflow models serve --env-manager local`` uses
#: the current environment; these record what it was built with).
REQUIREMENTS = [
    f"mlflow=={mlflow.__version__}",
    f"torch=={torch.__version__.split('+')[0]}",
    f"numpy=={np.__version__}",
    f"pandas=={pd.__version__}",
]


@dataclass
class ModelRecord:
    """What a variant's run has produced for its model so far."""

    namespace: str
    servable: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    model_id: str | None = None
    eval_data: str = ""

    @property
    def problem(self) -> str:
        return self.namespace.partition(".")[0]


def log_variant_model(run_id: str, namespace: str, record: ModelRecord) -> None:
    """Log ``record``'s servable model in the run ``run_id`` (then still open)."""
    servable = load_servable(record.servable)
    model_input: Any = servable.input_example  # images: float32 (N, 28, 28)
    if servable.kind == "points":
        # float64 columns: float32 and float64 points both convert to them
        # safely (MLflow refuses float64 for float32 columns)
        model_input = pd.DataFrame(model_input.astype(np.float64), columns=["x", "y"])
    signature = ModelSignature(infer_signature(model_input).inputs, OUTPUTS)
    active = mlflow.active_run()
    # the variant's child run, or (a sweep's point) the run of the kedro run itself
    resumed = (
        contextlib.nullcontext()
        if active is not None and active.info.run_id == run_id
        else mlflow.start_run(run_id=run_id, nested=True)
    )
    with resumed:
        info = mlflow.pyfunc.log_model(
            name=namespace.replace(".", "-"),  # no dots in model names
            python_model=str(MODEL_CODE),
            artifacts={"program": str(record.servable / "program.pt2")},
            signature=signature,
            input_example=model_input,
            pip_requirements=REQUIREMENTS,
            metadata={"kind": servable.kind, "classes": servable.classes},
            tags={
                "variant": namespace,
                "eval_data": servable.eval_data,
                "python": platform.python_version(),
            },
            # the run's metrics of its last epoch become the model's
            step=int(record.params.get("epochs", 0)),
        )
        mlflow.set_tag("eval_data", servable.eval_data)
    record.model_id, record.eval_data = info.model_id, servable.eval_data
    logger.info("MLflow model of '%s' logged: %s", namespace, info.model_uri)
