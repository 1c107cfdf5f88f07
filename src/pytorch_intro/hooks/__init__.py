"""Project hooks: the edge between the pipelines and Kedro/MLflow.

``tracking.VariantRunsHook`` records one MLflow child run per model variant;
``run_guard.RunGuardHook`` checks a run before it starts, stops it cleanly on
Ctrl-C/SIGTERM and sets up the MLflow experiment. Every Kedro or MLflow
internal they need is wrapped in ``pytorch_intro.internals``.

Runners: only the ``SequentialRunner`` is supported, and the project's
``VariantRunner`` (the same in another node order: ``kedro run``'s default,
see ``pytorch_intro.runner``); any other ``--runner`` is refused before
kedro-mlflow opens its run. The hooks keep
per-run state that assumes one node at a time in the main thread:

- ``ThreadRunner`` calls the hooks from several worker threads at once: a
  variant is taken as complete when the next node starts, which is wrong when
  nodes overlap, the count of files being written is shared, and a Ctrl-C
  (signals reach the main thread only) no longer waits for a file in progress.
- ``ParallelRunner`` runs nodes, and their hooks, in worker processes, each
  with its own copy of the hooks: the open child runs and the nodes left per
  variant live in the workers' copies, where the main process cannot close
  them, and a Ctrl-C reaches every worker.
"""

from pytorch_intro.hooks.run_guard import RunGuardHook, RunInterrupted
from pytorch_intro.hooks.tracking import VariantRunsHook
from pytorch_intro.internals import pin_load_version

__all__ = ["RunGuardHook", "RunInterrupted", "VariantRunsHook", "pin_load_version"]
