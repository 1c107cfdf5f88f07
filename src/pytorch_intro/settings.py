"""Project settings (see https://docs.kedro.org/en/stable/configure/)."""

import logging
import os

from pytorch_intro.internals import ignore_upstream_warnings

ignore_upstream_warnings()  # first: importing MLflow and the hooks would warn

from omegaconf import OmegaConf  # noqa: E402

from pytorch_intro.hooks import RunGuardHook, VariantRunsHook  # noqa: E402

# ${env:NAME,default} in conf/: e.g. MLFLOW_TRACKING_URI in mlflow.yml
if not OmegaConf.has_resolver("env"):
    OmegaConf.register_resolver(
        "env", lambda name, default=None: os.environ.get(name, default)
    )

# kedro-viz 12.5.0 records a run's events for SequentialRunner only, and says so
# on every run of the project's runner (runner.py); its dataset stats still work.
logging.getLogger("kedro_viz.integrations.kedro.run_hooks").setLevel(logging.ERROR)

# kedro-mlflow registers its own hook (the parent run) through its entry point.
HOOKS = (RunGuardHook(), VariantRunsHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (conf/local, conf/test) override single keys, not whole blocks.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft", "registry": "soft"},
    "config_patterns": {
        "registry": ["registry*", "registry*/**"],
        "sweeps": ["sweeps/*", "sweeps/**/*"],
    },
}
