"""Project settings (see https://docs.kedro.org/en/stable/configure/)."""

from pytorch_intro.hooks import RunGuardHook, VariantRunsHook

# kedro-mlflow registers its own hook (the parent run) through its entry point.
HOOKS = (RunGuardHook(), VariantRunsHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (conf/local, conf/test) override single keys, not whole blocks.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft", "registry": "soft"},
    "config_patterns": {"registry": ["registry*", "registry*/**"]},
}
