"""Project settings (see https://docs.kedro.org/en/stable/configure/)."""

import os

from pytorch_intro.hooks import RunGuardHook, VariantRunsHook

# kedro-mlflow registers its own hook (the parent run) through its entry point.
HOOKS = (RunGuardHook(), VariantRunsHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (conf/local, conf/test) override single keys, not whole blocks.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft", "registry": "soft"},
    # ${env:NAME,default} in conf/: e.g. MLFLOW_TRACKING_URI in mlflow.yml
    "custom_resolvers": {
        "env": lambda name, default=None: os.environ.get(name, default)
    },
    "config_patterns": {
        "registry": ["registry*", "registry*/**"],
        "sweeps": ["sweeps/*", "sweeps/**/*"],
    },
}
