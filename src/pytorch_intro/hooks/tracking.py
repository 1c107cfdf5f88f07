"""One MLflow child run per model variant (node namespace), with its model.

kedro-mlflow opens one parent run per ``kedro run``; this hook names it after the
pipeline and its start time, and opens a child run for each namespace whose
datasets declare tracking in the catalog (``metadata: {mlflow: {...}}``):

- ``metrics``: a per-epoch table (an ``epoch`` column), logged with step = epoch;
- ``dataset``: a labelled set the variant reads, logged as its run's MLflow
  dataset (:mod:`pytorch_intro.hooks.lineage`); its model's ``train_`` and
  ``val_`` metrics are linked to the training and evaluation datasets;
- ``params``: a flat dict, or a record's ``params()``; ``tags``: those of its keys
  also set as run tags (e.g. ``data_source``, to filter runs by);
- ``final_metrics``: the keys of the variant's final numbers, for its model;
- ``artifact``: the file just saved; ``model``: a servable model, logged as the
  variant's MLflow model when the variant ends (:mod:`pytorch_intro.hooks.models`);
- ``run: parent``: recorded in the parent run instead (the report).

In a sweep's point, the variant is recorded in the point's own run (its MLflow
model only with ``kedro sweep --log-models``). Runs left
RUNNING by a dead process are closed as KILLED (:mod:`pytorch_intro.hooks.orphans`);
after the pipeline, each problem's best model goes to the registry
(:mod:`pytorch_intro.hooks.registry`). Node code never calls MLflow.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import datetime
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from mlflow.entities import Dataset, Metric, RunInfo, RunTag
from mlflow.tracking import MlflowClient

from pytorch_intro.hooks.lineage import context_of, dataset_input, mlflow_dataset
from pytorch_intro.hooks.models import ModelRecord, log_variant_model
from pytorch_intro.hooks.orphans import close_orphan_runs
from pytorch_intro.hooks.registry import RegistryConfig, register_champions
from pytorch_intro.hooks.run_guard import interruption
from pytorch_intro.internals import mlflow_params, saved_file
from pytorch_intro.sweeps import LOG_MODELS_ENV, POINT_ENV, process_tags

logger = logging.getLogger(__name__)

#: Marks the experiment as model development (MLflow 3.17's UI still opens on
#: its GenAI view unless the address says ``workflowType=machine_learning``,
#: as the report's link does: docs/tracking.md).
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


class VariantRunsHook:
    """Records each model variant as a nested MLflow run: FINISHED once all of
    its nodes have run, FAILED (or KILLED) if the pipeline fails first."""

    def __init__(self, registry: RegistryConfig | None = None) -> None:
        self._registry = registry or RegistryConfig()
        self._catalog: Any = None
        self._client: MlflowClient | None = None
        self._parent: RunInfo | None = None
        self._runs: dict[str, str] = {}

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._registry = RegistryConfig.from_config_loader(context.config_loader)

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        self._catalog, self._runs = catalog, {}
        self._models: dict[str, ModelRecord] = {}
        self._datasets: dict[str, Dataset] = {}  # by catalog name: digested once
        self._seconds: Counter[str] = Counter()
        self._pending = Counter(n.namespace for n in pipeline.nodes if n.namespace)
        self._tracked = {
            node.namespace
            for node in pipeline.nodes
            for name in node.outputs
            if node.namespace
            and (spec := _saved(catalog.get(name)))
            and spec.get("run") != "parent"
        }
        names = run_params.get("pipeline_names") or run_params.get("pipeline_name")
        self._pipeline_names = (
            "+".join(names) if isinstance(names, list) else (names or "__default__")
        )
        self._point = os.environ.get(POINT_ENV)  # a sweep's point (resumed run)
        # a point logs its model only when the sweep asks (--log-models)
        self._log_models = self._point is None or bool(os.environ.get(LOG_MODELS_ENV))
        # kedro-mlflow (a plugin: its hooks are called first) has started it
        active = mlflow.active_run()
        self._parent = active.info if active else None
        self._client = client = MlflowClient() if active else None
        if active is None:
            return
        experiment = client.get_experiment(active.info.experiment_id)
        if experiment.tags.get(EXPERIMENT_KIND[0]) is None:
            client.set_experiment_tag(experiment.experiment_id, *EXPERIMENT_KIND)
        tags = [RunTag(key, value) for key, value in process_tags().items()]
        if self._point is not None:  # kedro-mlflow renamed the resumed point run
            name = f"{self._point} {self._pipeline_names}"
            tags.append(RunTag("mlflow.runName", name))
        elif active.info.run_name == self._pipeline_names:
            started = datetime.fromtimestamp(active.info.start_time / 1000)
            name = f"{self._pipeline_names} {started:%Y-%m-%d %H:%M:%S}"
            tags.append(RunTag("mlflow.runName", name))
        client.log_batch(active.info.run_id, tags=tags)
        close_orphan_runs(client, experiment.experiment_id, keep=active.info.run_id)

    @hook_impl
    def before_node_run(self, node: Node, inputs: dict[str, Any]) -> None:
        # A node's outputs are saved after its after_node_run hook, so a variant
        # is complete only once the next node starts (or the pipeline ends).
        self._terminate([ns for ns in self._runs if self._pending[ns] <= 0])
        if node.namespace in self._tracked:
            run_id = self._run_for(node.namespace)  # the variant's run starts here
            if run_id is not None:
                self._log_datasets(node.namespace, run_id, inputs)

    def _log_datasets(self, namespace: str, run_id: str, inputs: dict[str, Any]):
        """The labelled sets among a variant's node's ``inputs`` (catalog
        ``dataset``), as its run's MLflow datasets, each once."""
        record, logged = self._model(namespace), []
        for name, data in inputs.items():
            split = _spec(self._catalog.get(name)).get("dataset")
            context = split and context_of(name, split)
            if not context or context in record.datasets:
                continue
            if name not in self._datasets:
                self._datasets[name] = mlflow_dataset(name, data)
            record.datasets[context] = self._datasets[name]
            logged.append(dataset_input(self._datasets[name], context))
        if logged:
            self._client.log_inputs(run_id, datasets=logged)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        dataset = None if self._catalog is None else self._catalog.get(dataset_name)
        spec, started = _saved(dataset), time.perf_counter()
        if not spec or self._parent is None:
            return
        to_parent = spec.get("run") == "parent"
        run_id = self._parent.run_id if to_parent else self._run_for(node.namespace)
        if run_id is None:
            return
        if spec.get("params"):
            # a flat mapping, or a record that gives its own (VariantResults.params)
            params = data.params() if hasattr(data, "params") else dict(data)
            self._model(node.namespace).params = params
            tags = [
                RunTag(k, str(params[k])) for k in spec.get("tags", ()) if k in params
            ]
            self._client.log_batch(run_id, params=mlflow_params(params), tags=tags)
        if spec.get("metrics"):
            metrics = _metrics(data)
            self._client.log_batch(run_id, metrics=metrics)
            self._model(node.namespace).keep_latest(metrics)
        if spec.get("final_metrics"):
            self._model(node.namespace).metrics = {
                key: float(data[key]) for key in spec["final_metrics"]
            }
        if spec.get("artifact") or spec.get("model"):
            path = saved_file(dataset)
            if path is None or not path.exists():
                logger.warning("Cannot log %s to MLflow: no saved file", dataset_name)
            elif spec.get("model"):
                self._model(node.namespace).servable = path
            else:
                self._client.log_artifact(run_id, str(path))
        if not to_parent:  # a variant's logging time, for its log line
            self._seconds[node.namespace] += time.perf_counter() - started

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if node.namespace is not None:
            self._pending[node.namespace] -= 1

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._terminate(list(self._runs))
        # a sweep's points are compared in the sweep, not each in the registry
        if self._parent is not None and self._models and self._point is None:
            register_champions(
                self._client, self._parent.run_id, self._models, self._registry
            )

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        # Variants that completed were closed when the next node started; any
        # run still open belongs to the part that failed. kedro-mlflow has
        # closed the parent as FAILED; an interruption is recorded as KILLED.
        interrupted = interruption(error) is not None
        self._terminate(list(self._runs), "KILLED" if interrupted else "FAILED")
        if interrupted and self._parent is not None:
            self._client.set_terminated(self._parent.run_id, "KILLED")
            logger.info("MLflow run '%s' marked KILLED", self._parent.run_id)

    def _terminate(self, namespaces: list[str], status: str = "FINISHED") -> None:
        for namespace in namespaces:
            started = time.perf_counter()
            run_id = self._runs.pop(namespace)
            record = self._models.get(namespace)
            if status == "FINISHED" and record and record.servable and self._log_models:
                log_variant_model(run_id, namespace, record)
            if run_id != self._parent.run_id:  # kedro-mlflow closes its own run
                self._client.set_terminated(run_id, status)
            seconds = self._seconds[namespace] + time.perf_counter() - started
            logger.info(
                "MLflow child run '%s' %s (logging took %.2fs)",
                namespace,
                status,
                seconds,
            )

    def _model(self, namespace: str | None) -> ModelRecord:
        return self._models.setdefault(namespace or "", ModelRecord(namespace or ""))

    def _run_for(self, namespace: str | None) -> str | None:
        """The variant's run, started on first use (None: none to record in)."""
        if namespace is None or self._parent is None:  # tracking is off
            return None
        if namespace not in self._runs:
            if self._point is not None:  # a sweep's point: its run is the variant's
                self._runs[namespace] = self._parent.run_id
                return self._parent.run_id
            problem, _, variant = namespace.partition(".")
            run = self._client.create_run(
                experiment_id=self._parent.experiment_id,
                run_name=namespace,
                tags={
                    "mlflow.parentRunId": self._parent.run_id,
                    "pipeline": problem,
                    "variant": variant or problem,
                    "kedro_pipeline": self._pipeline_names,
                }
                | process_tags(),
            )
            self._runs[namespace] = run.info.run_id
            logger.info(
                "MLflow child run '%s' - '%s' started", namespace, run.info.run_id
            )
        return self._runs[namespace]


def _spec(dataset: Any) -> dict[str, Any]:
    """What the catalog says to record of a dataset (its ``metadata.mlflow``)."""
    return (getattr(dataset, "metadata", None) or {}).get("mlflow") or {}


def _saved(dataset: Any) -> dict[str, Any]:
    """What to record of a dataset when a node saves it (a ``dataset`` is
    recorded by the variants that read it)."""
    spec = _spec(dataset)
    return {} if spec.keys() <= {"dataset"} else spec


def _metrics(history: pd.DataFrame) -> list[Metric]:
    timestamp = int(time.time() * 1000)
    return [
        Metric(str(column), float(value), timestamp, int(step))
        for column in history.columns
        if column != "epoch"
        for step, value in zip(history["epoch"], history[column], strict=True)
    ]
