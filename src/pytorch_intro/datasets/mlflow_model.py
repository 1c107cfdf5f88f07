"""A Kedro dataset for MLflow models: loaded by URI, or as a training run's variant."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel
from mlflow.tracking import MlflowClient

_NAMED = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$"
)

Loader = Callable[..., PyFuncModel]


class ModelNotFoundError(DatasetError):
    """No model where the URI (or the run and variant) points; the message says
    how to get one."""


class MLflowModelDataset(AbstractDataset[None, "PyFuncModel | Loader"]):
    """An MLflow pyfunc model, from the tracking server Kedro's session set.

    ``load()`` returns the model at ``uri``; with ``lazy: true``, the function
    :meth:`read`, so that a node decides which model to load. A missing model
    raises :class:`ModelNotFoundError`, naming the model, the tracking URI and
    what to run (``trained_by``: a registered model's name -> the pipeline that
    registers it).
    """

    def __init__(
        self,
        uri: str | None = None,
        lazy: bool = False,
        trained_by: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset; ``uri``: the model to load by default."""
        if not lazy and uri is None:
            raise DatasetError("MLflowModelDataset needs a uri unless lazy: true")
        self._uri = uri
        self._lazy = lazy
        self._trained_by = dict(trained_by or {})
        self.metadata = metadata

    def load(self) -> PyFuncModel | Loader:
        return self.read if self._lazy else self.read()

    def read(
        self,
        uri: str | None = None,
        *,
        run_id: str | None = None,
        variant: str | None = None,
        kind: str | None = None,
    ) -> PyFuncModel:
        """The model at ``uri`` (any MLflow model URI, default the dataset's), or
        the one that the run ``variant`` (e.g. ``digits.cnn``) of run ``run_id``
        logged (``run_id`` may be the variant's own run); ``kind``: refuse a model
        whose metadata names another kind (``digits``, ``points``)."""
        if run_id is not None:
            if not variant:
                raise DatasetError(f"run '{run_id}': which variant? (e.g. digits.cnn)")
            uri = self.variant_model_uri(run_id, variant)
        uri = uri or self._uri
        if not uri:
            raise DatasetError("no model URI given (and the dataset has none)")
        try:
            model = mlflow.pyfunc.load_model(uri)
        except MlflowException as exc:
            raise ModelNotFoundError(self._not_found(uri, exc)) from exc
        except OSError as exc:
            raise ModelNotFoundError(f"cannot load the model {uri}: {exc}") from exc
        model_kind = (model.metadata.metadata or {}).get("kind")
        if kind is not None and model_kind not in (None, kind):
            raise DatasetError(
                f"{uri} is a model of {model_kind}, but the inputs are {kind}: "
                "choose a model for them (or other inputs)"
            )
        return model

    def variant_model_uri(self, run_id: str, variant: str) -> str:
        """``models:/<id>`` of the model ``variant``'s run of ``run_id`` logged."""
        client = MlflowClient()
        where = mlflow.get_tracking_uri()
        try:
            run = client.get_run(run_id)
        except MlflowException as exc:
            raise ModelNotFoundError(
                f"no MLflow run '{run_id}' in {where}: predict.run_id must be the id "
                "of a `kedro run` (its parent run in the MLflow UI) or of one of "
                "its variants' runs"
            ) from exc
        experiment = run.info.experiment_id
        if run.info.run_name == variant and run.data.tags.get("mlflow.parentRunId"):
            child = run  # the variant's own run
        else:
            children = client.search_runs(
                [experiment],
                filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
                order_by=["attributes.start_time DESC"],
                max_results=1000,
            )
            matches = [r for r in children if r.info.run_name == variant]
            if not matches:
                names = ", ".join(sorted({r.info.run_name for r in children})) or "none"
                raise ModelNotFoundError(
                    f"run '{run_id}' ({run.info.run_name}) in {where} has no variant "
                    f"'{variant}'; its variants: {names}"
                )
            child = matches[0]
        models = mlflow.search_logged_models(
            experiment_ids=[experiment],
            filter_string=f"source_run_id = '{child.info.run_id}'",
            output_format="list",
        )
        if not models:
            raise ModelNotFoundError(
                f"variant '{variant}' of run '{run_id}' in {where} logged no model "
                f"(its run {child.info.run_id} is {child.info.status}): choose a run "
                "that finished"
            )
        return f"models:/{models[0].model_id}"

    def _not_found(self, uri: str, exc: MlflowException) -> str:
        where = mlflow.get_tracking_uri()
        named = _NAMED.match(uri)
        if named and exc.error_code in (
            "RESOURCE_DOES_NOT_EXIST",
            "INVALID_PARAMETER_VALUE",
        ):
            alias, version = named["alias"], named["version"]
            what = f"with alias '{alias}'" if alias else f"version {version}"
            pipeline = self._trained_by.get(named["name"])
            run = "run `kedro run`" + (
                f" (or `kedro run --pipelines={pipeline}`)" if pipeline else ""
            )
            return (
                f"no model '{named['name']}' {what} in {where}: {run} to train and "
                "register one, or set predict.model"
            )
        return f"cannot load the model {uri} from {where}: {exc.message}"

    def save(self, data: None) -> None:
        raise DatasetError(
            "MLflow models are logged by the training runs, not saved here"
        )

    def _describe(self) -> dict[str, Any]:
        return {"uri": self._uri, "lazy": self._lazy}
