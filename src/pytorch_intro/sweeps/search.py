"""A sweep's search with Optuna: which point to try next, and when to stop one.

The study lives in a database (the catalog's ``sweeps.<name>.study``), so the
same sweep started again resumes it: its finished and pruned points count
against the budget and are not run again, and points left running by a stopped
sweep are marked failed. The Dask scheduler serves the study to the driver and
to every worker (:func:`shared_storage`). The driver asks for each point (its
``Trial``); the point's worker reports its validation accuracy after every
epoch and stops when the pruner says so.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from pytorch_intro.sweeps.spec import Distribution, Point, Scalar, SweepSpec

#: A finished search point: these count against the budget.
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


def shared_storage(client: Any, url: str) -> BaseStorage:
    """The study's database at ``url``, opened by the Dask scheduler of
    ``client`` and served by it (optuna-integration's ``DaskStorage``): every
    worker of the cluster reports its epochs there, none opens the file. On a
    remote scheduler, ``url`` is a path on the scheduler's machine."""
    from optuna_integration.dask import DaskStorage  # noqa: PLC0415

    quiet_storage()  # here, and in the scheduler when it is this process
    return DaskStorage(storage=url, client=client)


def quiet_storage() -> None:
    """Without the warning that ``DaskStorage`` is experimental, which each
    process gives each time it builds one: the driver, the scheduler, and a
    worker for each point's trial it unpickles."""
    warnings.filterwarnings(
        "ignore", "DaskStorage is experimental", ExperimentalWarning
    )


def open_study(spec: SweepSpec, name: str, storage: str | BaseStorage) -> optuna.Study:
    """The sweep's study in ``storage``: new, or the one a former run left."""
    search = spec.search
    samplers = {
        "grid": lambda: optuna.samplers.GridSampler(_grid(spec), seed=search.seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=search.seed),
        "tpe": lambda: optuna.samplers.TPESampler(seed=search.seed),
    }
    pruner = search.pruner
    pruners = {
        "none": optuna.pruners.NopPruner,
        "median": lambda: optuna.pruners.MedianPruner(
            n_startup_trials=pruner.startup_trials, n_warmup_steps=pruner.warmup_epochs
        ),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1),
    }
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep's lines say it
    return optuna.create_study(
        study_name=f"sweep {name}",
        storage=storage,
        sampler=samplers[search.sampler](),
        pruner=pruners[pruner.kind](),
        direction="maximize",  # the final validation accuracy
        load_if_exists=True,
    )


def budget_left(study: optuna.Study, spec: SweepSpec) -> int:
    """Points still to run; those a stopped sweep left running are failed."""
    for trial in study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING)):
        tell(study, trial.number, state=TrialState.FAIL)
    budget = spec.search.budget or len(spec.pipelines) * _grid_size(spec)
    return max(budget - len(study.get_trials(states=DONE)), 0)


def tell(
    study: optuna.Study, trial: optuna.trial.Trial | int, **result: object
) -> None:
    """``study.tell``: the point's value (``values=``) or ``state=``.

    Optuna's grid sampler stops the study once its grid is done, which works
    only inside ``study.optimize``; outside, ``tell`` raises after it has
    recorded the point (optuna 5.0: ``_tell``'s ``finally``): the budget ends
    this search, so that error is dropped.
    """
    try:
        study.tell(trial, **result)
    except RuntimeError as error:
        if "Study.stop" not in str(error):
            raise


def next_point(trial: optuna.trial.Trial, spec: SweepSpec) -> Point:
    """The point Optuna asks for with ``trial`` (numbered after it)."""
    swept: dict[str, Scalar] = {}
    if len(spec.pipelines) > 1:
        pipeline = trial.suggest_categorical("pipeline", spec.pipelines)
    else:
        [pipeline] = spec.pipelines
    for key, values in sorted(spec.grid.items()):
        swept[key] = trial.suggest_categorical(key, values)
    drawn = spec.random.parameters if spec.random else {}
    for key, distribution in sorted(drawn.items()):
        swept[key] = _suggest(trial, key, distribution)
    if spec.seeds:
        swept[f"{pipeline.partition('.')[0]}.training.seed"] = spec.seeds[0]
    return Point(trial.number + 1, pipeline, swept, dict(spec.params) | swept, spec.env)


def _suggest(trial: optuna.trial.Trial, key: str, dist: Distribution) -> Scalar:
    if dist.choice is not None:
        return trial.suggest_categorical(key, dist.choice)
    if dist.uniform is not None:
        return trial.suggest_float(key, *dist.uniform)
    if dist.log_uniform is not None:
        return trial.suggest_float(key, *dist.log_uniform, log=True)
    return trial.suggest_int(key, *dist.int_uniform)


def _grid(spec: SweepSpec) -> dict[str, list[Scalar]]:
    grid = dict(spec.grid)
    if len(spec.pipelines) > 1:
        grid["pipeline"] = list(spec.pipelines)
    return grid


def _grid_size(spec: SweepSpec) -> int:
    size = 1
    for values in spec.grid.values():
        size *= len(values)
    return size
