"""One MLflow child run per model variant (node namespace), with its model.

kedro-mlflow opens one parent run per ``kedro run``. This hook names it after
the pipeline and its start time and adds a child run for every namespace whose
datasets declare tracking in the catalog, e.g.::

    "{problem}.{variant}.history":
      ...
      metadata:
        mlflow: {metrics: true, artifact: true}

``metrics``: a per-epoch table (an ``epoch`` column) logged with step = epoch;
``params``: a flat dict logged as parameters; ``tags``: keys of that dict also
set as run tags (e.g. ``data_source``, to filter runs); ``artifact``: the file
the catalog just saved; ``model``: a servable model (``ServableDataset``) logged
as the variant's MLflow model when the variant ends, with the run's params and
final metrics (:mod:`pytorch_intro.hooks.models`); ``run: parent`` records the
dataset in the parent run (the report) instead of a child run. Node code never
calls MLflow.

In a sweep's point (``kedro sweep``), the variant is recorded in the point's
own run, which the sweep created as a child of its run.

Every run is tagged with its host and process id; at the start of a run, runs
of the experiment still RUNNING whose process on this host is gone (a
``kill -9``, a crash) are marked KILLED. After the pipeline, the best model of
each problem goes to the registry (:mod:`pytorch_intro.hooks.registry`).
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
from mlflow.entities import Metric, RunStatus, RunTag
from mlflow.tracking import MlflowClient

from pytorch_intro.hooks.models import ModelRecord, log_variant_model
from pytorch_intro.hooks.orphans import close_orphan_runs, process_tags
from pytorch_intro.hooks.registry import RegistryConfig, register_champions
from pytorch_intro.hooks.run_guard import RunInterrupted
from pytorch_intro.internals import mlflow_params, saved_file
from pytorch_intro.sweeps import POINT_ENV

logger = logging.getLogger(__name__)

FINISHED = RunStatus.to_string(RunStatus.FINISHED)
FAILED = RunStatus.to_string(RunStatus.FAILED)
KILLED = RunStatus.to_string(RunStatus.KILLED)
#: Marks the experiment as model development (MLflow 3.17's UI still opens on
#: its GenAI view unless the address says ``workflowType=machine_learning``,
#: as the report's link does: docs/tracking.md).
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


class VariantRunsHook:
    """Records each model variant (node namespace) as a nested MLflow run.

    A child run ``<problem>.<variant>`` starts with the namespace's first node,
    tagged ``pipeline`` and ``variant``; it is marked FINISHED once all of the
    namespace's nodes have run, FAILED (or KILLED) if the pipeline fails first.
    Nodes must run one at a time (SequentialRunner): see ``pytorch_intro.hooks``.
    """

    def __init__(self, registry: RegistryConfig | None = None) -> None:
        self._registry = registry or RegistryConfig()
        self._catalog: Any = None
        self._client: MlflowClient | None = None
        self._runs: dict[str, str] = {}
        self._tracked: set[str] = set()
        self._pending: Counter[str] = Counter()
        self._seconds: Counter[str] = Counter()
        self._models: dict[str, ModelRecord] = {}
        self._pipeline_names = ""
        self._parent: str | None = None
        self._point: str | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._registry = RegistryConfig.from_config_loader(context.config_loader)

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        self._catalog = catalog
        self._runs, self._models = {}, {}
        self._client = None
        self._pending = Counter(n.namespace for n in pipeline.nodes if n.namespace)
        self._tracked = {
            n.namespace for n in pipeline.nodes if n.namespace and _tracks(n, catalog)
        }
        self._seconds = Counter()
        names = run_params.get("pipeline_names") or run_params.get("pipeline_name")
        self._pipeline_names = (
            "+".join(names) if isinstance(names, list) else (names or "__default__")
        )
        # kedro-mlflow (a plugin, so registered later and called earlier) has
        # started the parent run by now.
        parent = mlflow.active_run()
        self._parent = parent.info.run_id if parent else None
        # a sweep's point: its variant is recorded in the (resumed) point run
        self._point = os.environ.get(POINT_ENV)
        if parent is None:
            return
        client = self._get_client()
        experiment = client.get_experiment(parent.info.experiment_id)
        if experiment.tags.get(EXPERIMENT_KIND[0]) is None:
            client.set_experiment_tag(experiment.experiment_id, *EXPERIMENT_KIND)
        tags = [RunTag(key, value) for key, value in process_tags().items()]
        if self._point is not None:  # kedro-mlflow renamed the resumed point run
            tags.append(
                RunTag("mlflow.runName", f"{self._point} {self._pipeline_names}")
            )
        elif parent.info.run_name == self._pipeline_names:
            started = datetime.fromtimestamp(parent.info.start_time / 1000)
            name = f"{self._pipeline_names} {started:%Y-%m-%d %H:%M:%S}"
            tags.append(RunTag("mlflow.runName", name))
        client.log_batch(parent.info.run_id, tags=tags)
        close_orphan_runs(client, experiment.experiment_id, keep=parent.info.run_id)

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        # A node's outputs are saved after its after_node_run hook, so a variant
        # is complete only once the next node starts (or the pipeline ends).
        self._finish_completed()
        if node.namespace in self._tracked:
            self._run_for(node.namespace)  # the variant's run starts with it

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        if self._catalog is None:
            return
        dataset = self._catalog.get(dataset_name)
        spec = ((getattr(dataset, "metadata", None) or {}).get("mlflow")) or {}
        if not spec:
            return
        started = time.perf_counter()
        run_id = self._target_run(spec, node)
        if run_id is None:
            return
        client = self._get_client()
        if spec.get("params"):
            client.log_batch(run_id, params=mlflow_params(data))
            self._model(node.namespace).params = dict(data)
        if spec.get("tags"):
            tags = [RunTag(key, str(data[key])) for key in spec["tags"] if key in data]
            client.log_batch(run_id, tags=tags)
        if spec.get("metrics"):
            client.log_batch(run_id, metrics=_metrics(data))
        if spec.get("final_metrics"):  # the variant's final numbers, for its model
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
                client.log_artifact(run_id, str(path))
        if spec.get("run") != "parent":  # a variant's logging time, for its log line
            self._seconds[node.namespace] += time.perf_counter() - started

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if node.namespace is not None:
            self._pending[node.namespace] -= 1

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._finish_completed()
        self._terminate(list(self._runs), FINISHED)
        # a sweep's points are compared in the sweep, not each in the registry
        if self._parent is not None and self._models and self._point is None:
            register_champions(
                self._get_client(), self._parent, self._models, self._registry
            )

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        # Variants that completed were closed when the next node started; any
        # run still open belongs to the part that failed. kedro-mlflow has
        # closed the parent as FAILED; an interruption is recorded as KILLED.
        interrupted = isinstance(error, RunInterrupted)
        self._terminate(list(self._runs), KILLED if interrupted else FAILED)
        if interrupted and self._parent is not None:
            self._get_client().set_terminated(self._parent, KILLED)
            logger.info("MLflow run '%s' marked %s", self._parent, KILLED)

    def _finish_completed(self) -> None:
        done = [ns for ns in self._runs if self._pending[ns] <= 0]
        self._terminate(done, FINISHED)

    def _terminate(self, namespaces: list[str], status: str) -> None:
        for namespace in namespaces:
            started = time.perf_counter()
            run_id = self._runs.pop(namespace)
            record = self._models.get(namespace)
            if status == FINISHED and record is not None and record.servable:
                log_variant_model(run_id, namespace, record)
            if run_id != self._parent:  # kedro-mlflow closes its own run
                self._get_client().set_terminated(run_id, status)
            seconds = self._seconds[namespace] + time.perf_counter() - started
            logger.info(
                "MLflow child run '%s' %s (logging took %.2fs)",
                namespace,
                status,
                seconds,
            )

    def _model(self, namespace: str | None) -> ModelRecord:
        return self._models.setdefault(namespace or "", ModelRecord(namespace or ""))

    def _target_run(self, spec: dict[str, Any], node: Node) -> str | None:
        """The run a tracked dataset goes to: the parent or the variant's child."""
        if spec.get("run") == "parent":
            parent = mlflow.active_run()
            return parent.info.run_id if parent else None
        return self._run_for(node.namespace) if node.namespace else None

    def _get_client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient()
        return self._client

    def _run_for(self, namespace: str) -> str | None:
        if namespace in self._runs:
            return self._runs[namespace]
        parent = mlflow.active_run()
        if parent is None:  # kedro-mlflow tracking is disabled for this pipeline
            return None
        if self._point is not None:  # a sweep's point: its own run is the variant's
            self._runs[namespace] = parent.info.run_id
            return parent.info.run_id
        problem, _, variant = namespace.partition(".")
        run = self._get_client().create_run(
            experiment_id=parent.info.experiment_id,
            run_name=namespace,
            tags={
                "mlflow.parentRunId": parent.info.run_id,
                "pipeline": problem,
                "variant": variant or problem,
                "kedro_pipeline": self._pipeline_names,
            }
            | process_tags(),
        )
        self._runs[namespace] = run.info.run_id
        logger.info("MLflow child run '%s' - '%s' started", namespace, run.info.run_id)
        return run.info.run_id


def _tracks(node: Node, catalog: Any) -> bool:
    """Whether any of the node's outputs is recorded in a variant's child run."""
    for name in node.outputs:
        dataset = catalog.get(name)
        spec = ((getattr(dataset, "metadata", None) or {}).get("mlflow")) or {}
        if spec and spec.get("run") != "parent":
            return True
    return False


def _metrics(history: pd.DataFrame) -> list[Metric]:
    timestamp = int(time.time() * 1000)
    return [
        Metric(str(column), float(value), timestamp, int(step))
        for column in history.columns
        if column != "epoch"
        for step, value in zip(history["epoch"], history[column], strict=True)
    ]
