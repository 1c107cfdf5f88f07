"""After a run: each problem's best model registered, and champion if it is.

The best variant of each problem (by ``metric`` on its evaluation set) becomes
a new version of the registered model ``pytorch-intro-<problem>``. It takes
the alias ``champion`` only if there is none yet or if it beats the current
champion on the same evaluation data (its ``eval_data`` tag: the subset and
full MNIST, or test sets of different sizes, are never compared). The decision
and both values are logged in the run, and in one log line. Configured in
``conf/base/registry.yml``.
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

from pytorch_intro.hooks.models import ModelRecord
from pytorch_intro.validation import Config

logger = logging.getLogger(__name__)


class RegistryConfig(Config):
    """Where each problem's best model goes, and how champions are chosen."""

    section = "registry"

    enabled: bool = True
    alias: str = "champion"
    metric: str = "val_accuracy"
    models: dict[str, str] = {
        "simple2d": "pytorch-intro-simple2d",
        "digits": "pytorch-intro-digits",
    }

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
    decisions = {}
    for problem, name in config.models.items():
        candidates = [
            r
            for r in models.values()
            if r.problem == problem and r.model_id and config.metric in r.metrics
        ]
        if candidates:
            best = max(candidates, key=lambda r: r.metrics[config.metric])
            decisions[problem] = _register(client, run_id, problem, name, best, config)
    return decisions


def _register(
    client: MlflowClient,
    run_id: str,
    problem: str,
    name: str,
    best: ModelRecord,
    config: RegistryConfig,
) -> str:
    metric, value = config.metric, best.metrics[config.metric]
    data = best.eval_data or "unknown data"
    version = mlflow.register_model(
        f"models:/{best.model_id}",
        name,
        tags={"variant": best.namespace, "eval_data": data, metric: f"{value:.6f}"},
    ).version
    champion = _champion(client, name, config.alias)
    metrics = [Metric(f"registry.{problem}.candidate_{metric}", value, 0, 0)]
    if champion is None:
        promote, why = True, "there was no champion"
    else:
        current = float(champion.tags.get(metric, "nan"))
        metrics.append(Metric(f"registry.{problem}.champion_{metric}", current, 0, 0))
        if champion.tags.get("eval_data") != data:
            promote, why = (
                False,
                (
                    f"not compared: champion v{champion.version} was evaluated on "
                    f"{champion.tags.get('eval_data', 'unknown data')}, this model on {data}"
                ),
            )
        elif value > current:
            promote, why = (
                True,
                (f"{value:.4f} beats champion v{champion.version}'s {current:.4f}"),
            )
        else:
            promote, why = (
                False,
                (
                    f"{value:.4f} does not beat champion v{champion.version}'s {current:.4f}"
                ),
            )
    if promote:
        client.set_registered_model_alias(name, config.alias, version)
    decision = (
        f"{name} v{version} ({best.namespace}, {metric} {value:.4f}) "
        f"{'is now' if promote else 'is not'} '{config.alias}': {why}"
    )
    client.log_batch(
        run_id,
        metrics=[Metric(m.key, m.value, _now(), 0) for m in metrics],
        tags=[RunTag(f"registry.{problem}", decision[:5000])],
    )
    logger.info("Model registry: %s", decision)
    return decision


def _champion(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _now() -> int:
    return int(time.time() * 1000)
