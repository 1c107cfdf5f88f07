"""Project hooks: one MLflow child run per variant, and the run's guard.

Both keep per-run state that assumes their hooks are called one at a time in the
main thread (where signals arrive): with ``ThreadRunner`` nodes overlap, and with
``ParallelRunner`` the open runs live in worker processes. So only the
``SequentialRunner`` and the project's ``VariantRunner`` (whose worker processes
only compute) are accepted, before kedro-mlflow opens its run.
"""

from pytorch_intro.hooks.run_guard import RunGuardHook, RunInterrupted
from pytorch_intro.hooks.tracking import VariantRunsHook
from pytorch_intro.internals import pin_load_version

__all__ = ["RunGuardHook", "RunInterrupted", "VariantRunsHook", "pin_load_version"]
