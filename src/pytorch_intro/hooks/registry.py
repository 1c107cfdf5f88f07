"""After a run: each problem's best model registered, and champion if it is.

The best variant of each problem (by ``metric``) becomes a new version of its
registered model. It takes the alias only if there is no champion yet, or if it
beats the champion on the same evaluation data: the digest of the run's MLflow
evaluation dataset (tag ``eval_dataset_digest``; models evaluated on other data
are never compared). The decision is logged in the run and in one log line.
Configured in ``conf/base/registry.yml``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import mlflow
from mlflow.entities import Metric, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pytorch_intro.hooks.models import ModelRecord, eval_tags
from pytorch_intro.validation import Config

logger = logging.getLogger(__name__)


class RegistryConfig(Config):
    """Where each problem's best model goes, and how champions are chosen."""

    enabled: bool = True
    alias: str = "champion"
    metric: str = "val_accuracy"
    #: each problem's registered model: ``name`` with ``{problem}`` filled in,
    #: unless ``models`` names it
    name: str = "pytorch-intro-{problem}"
    models: dict[str, str] = {}

    @classmethod
    def from_config_loader(cls, loader: Any) -> RegistryConfig:
        """``registry.yml`` of the run's environment (defaults when there is none)."""
        try:
            raw = loader["registry"] or {}
        except Exception:  # no registry.yml: the defaults
            raw = {}
        return cls.model_validate(raw.get("registry", raw))


def register_champions(
    client: MlflowClient,
    run_id: str,
    models: Mapping[str, ModelRecord],
    config: RegistryConfig,
) -> dict[str, str]:
    """Register each problem's best model of this run; returns the decisions."""
    if not config.enabled:
        return {}
    decisions: dict[str, str] = {}
    metric = config.metric
    for problem in sorted({r.problem for r in models.values()}):
        candidates = [
            r
            for r in models.values()
            if r.problem == problem and r.model_id and metric in r.metrics
        ]
        if not candidates:
            continue
        best = max(candidates, key=lambda r: r.metrics[metric])
        name = config.models.get(problem, config.name.format(problem=problem))
        value, ours = best.metrics[metric], eval_tags(best.eval_dataset)
        version = mlflow.register_model(
            f"models:/{best.model_id}",
            name,
            tags={"variant": best.namespace, metric: f"{value:.6f}"} | ours,
        ).version
        try:
            champion = client.get_model_version_by_alias(name, config.alias)
        except MlflowException:
            champion = None
        now = int(time.time() * 1000)
        metrics = [Metric(f"registry.{problem}.candidate_{metric}", value, now, 0)]
        if champion is None:
            promote, why = True, "there was no champion"
        else:
            current = float(champion.tags.get(metric, "nan"))
            metrics.append(
                Metric(f"registry.{problem}.champion_{metric}", current, now, 0)
            )
            digest = _digest(ours)
            same = digest is not None and _digest(champion.tags) == digest
            promote = same and value > current
            why = (
                f"{value:.4f} {'beats' if promote else 'does not beat'} champion "
                f"v{champion.version}'s {current:.4f}"
                if same
                else f"not compared: champion v{champion.version} was evaluated on "
                f"{_data(champion.tags)}, this model on {_data(ours)}"
            )
        if promote:
            client.set_registered_model_alias(name, config.alias, version)
        decisions[problem] = (
            f"{name} v{version} ({best.namespace}, {metric} {value:.4f}) "
            f"{'is now' if promote else 'is not'} '{config.alias}': {why}"
        )
        client.log_batch(
            run_id,
            metrics=metrics,
            tags=[RunTag(f"registry.{problem}", decisions[problem][:5000])],
        )
        logger.info("Model registry: %s", decisions[problem])
    return decisions


def _digest(tags: Mapping[str, str]) -> str | None:
    """The digest of a model's evaluation data, from its tags (a version
    registered before the datasets were logged: the end of its ``eval_data``,
    the same digest of the same values)."""
    digest = tags.get("eval_dataset_digest")
    return digest or tags.get("eval_data", "").partition("sha256 ")[2] or None


def _data(tags: Mapping[str, str]) -> str:
    """What a model's tags say it was evaluated on, for people."""
    digest = _digest(tags)
    name = tags.get("eval_dataset", "data")
    return f"{name} (digest {digest})" if digest else "unknown data"
