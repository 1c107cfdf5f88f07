"""Each variant's MLflow model: logged in its child run when the variant ends.

The model is an MLflow pyfunc "model from code" (``hooks/mlflow_model.py``,
stored as text) around the variant's exported network (a ``torch.export``
``.pt2`` archive): loading it runs that file and ``torch.export.load``, never
an unpickler. It is logged as an MLflow 3 ``LoggedModel`` in the variant's
run, with a signature and an input example of real inputs; MLflow copies the
run's params onto it, and the final validation loss and accuracy are logged
against it (its ``model_id``: the run's metrics of the last epoch), so the
experiment's Models view compares the variants side by side.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.models import infer_signature

from pytorch_intro.datasets.servable import load_servable
from pytorch_intro.hooks.mlflow_model import predictions

logger = logging.getLogger(__name__)

#: The code of the logged models (see its docstring).
MODEL_CODE = Path(importlib.util.find_spec("pytorch_intro.hooks.mlflow_model").origin)
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
    output = predictions(servable.predict(servable.input_example))
    model_input: Any = servable.input_example  # images: float32 (N, 28, 28)
    if servable.kind == "points":
        # float64 columns: float32 and float64 points both convert to them
        # safely (MLflow refuses float64 for float32 columns)
        model_input = pd.DataFrame(model_input.astype(np.float64), columns=["x", "y"])
    signature = infer_signature(model_input, output)
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
