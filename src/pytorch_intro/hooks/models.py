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
from mlflow.entities import Dataset, Metric
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import Array
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from pytorch_intro.datasets.servable import describe_servable
from pytorch_intro.hooks.lineage import measured_on
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
    #: the MLflow datasets it was trained and evaluated on, by context
    datasets: dict[str, Dataset] = field(default_factory=dict)
    #: each metric's value at its last step, as the run logged it
    latest: dict[str, Metric] = field(default_factory=dict)

    def keep_latest(self, metrics: list[Metric]) -> None:
        for metric in metrics:
            if (
                metric.key not in self.latest
                or metric.step >= self.latest[metric.key].step
            ):
                self.latest[metric.key] = metric

    @property
    def problem(self) -> str:
        return self.namespace.partition(".")[0]

    @property
    def eval_dataset(self) -> Dataset | None:
        return self.datasets.get("evaluation")

    @classmethod
    def from_run(
        cls, client: MlflowClient, run_id: str, namespace: str, servable: Path
    ) -> ModelRecord:
        """What a finished run recorded of the variant ``namespace`` whose
        servable model is in ``servable`` (a sweep's point, its model logged
        later): its params, metrics and datasets."""
        run = client.get_run(run_id)
        record = cls(namespace, servable, dict(run.data.params))
        for key in run.data.metrics:
            record.keep_latest(client.get_metric_history(run_id, key))
        record.datasets = {
            tag.value: entry.dataset
            for entry in run.inputs.dataset_inputs
            for tag in entry.tags
            if tag.key == MLFLOW_DATASET_CONTEXT
        }
        return record


def model_metrics(record: ModelRecord, model_id: str, run_id: str) -> list[Metric]:
    """``record``'s latest metrics as its model's (the same timestamps and
    values: the run's history is not logged twice)."""
    return [
        Metric(
            metric.key,
            metric.value,
            metric.timestamp,
            metric.step,
            model_id=model_id,
            dataset_name=dataset and dataset.name,
            dataset_digest=dataset and dataset.digest,
            run_id=run_id,
        )
        for metric in record.latest.values()
        for dataset in [measured_on(metric.key, record.datasets)]
    ]


def eval_tags(dataset: Dataset | None) -> dict[str, str]:
    """The tags that name a model's evaluation dataset (none when unknown)."""
    if dataset is None:
        return {}
    return {"eval_dataset": dataset.name, "eval_dataset_digest": dataset.digest}


def log_variant_model(run_id: str, namespace: str, record: ModelRecord) -> None:
    """Log ``record``'s servable model in the run ``run_id`` (then still open)."""
    servable = describe_servable(record.servable)  # its network: as a file
    model_input: Any = servable["input_example"]  # images: float32 (N, 28, 28)
    if servable["kind"] == "points":
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
            metadata={"kind": servable["kind"], "classes": servable["classes"]},
            tags={"variant": namespace, "python": platform.python_version()}
            | eval_tags(record.eval_dataset),
        )
    # the run's metrics of its last epoch become the model's, each linked to
    # the dataset it was measured on (MLflow keeps that link for models only)
    MlflowClient().log_batch(
        run_id, metrics=model_metrics(record, info.model_id, run_id)
    )
    record.model_id = info.model_id
    logger.info("MLflow model of '%s' logged: %s", namespace, info.model_uri)
