"""A sweep's points in one warm process (nothing leaks from one to the next),
stopped early by a search's pruner, and a search's study resumed."""

from __future__ import annotations

import os

import mlflow
import optuna
import psutil
import pytest
import torch
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from pytorch_intro.sweeps import POINT_ENV
from pytorch_intro.sweeps.search import budget_left, next_point, open_study
from pytorch_intro.sweeps.spec import Point, SweepSpec
from pytorch_intro.sweeps.summary import optuna_plots
from pytorch_intro.sweeps.tracking import SweepTracker
from pytorch_intro.sweeps.worker import log_model, run_point
from tests.conftest import kedro_project, make_project

PIPELINE = "simple2d.linear"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = make_project(tmp_path_factory.mktemp("points"))
    with kedro_project(folder):
        yield folder


def _point(project, number: int, **params) -> tuple[Point, str, MlflowClient]:
    """Point ``number`` of the 2D linear model (1 epoch) and its new MLflow run."""
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pytorch-intro")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment("pytorch-intro")
    )
    params = {"simple2d.training.epochs": 1, "simple2d.training.seed": number} | params
    point = Point(number, PIPELINE, params, params, "test")
    run_id = client.create_run(experiment_id, run_name=point.id).info.run_id
    return point, run_id, client


def _state() -> tuple:
    return (
        torch.get_num_threads(),
        torch.tensor([1e-323], dtype=torch.float64).item() == 0.0,  # flushing
        torch.random.get_rng_state().clone(),
        os.environ.get(POINT_ENV),
        os.environ.get("MLFLOW_RUN_ID"),
        mlflow.active_run(),
    )


def test_points_in_one_process_finish_fail_and_leave_it_as_it_was(project):
    before = _state()
    good, good_run, client = _point(project, 1)
    bad, bad_run, _ = _point(project, 2, **{"simple2d.training.lr": -1.0})
    results = [
        run_point(str(project), p, r) for p, r in ((good, good_run), (bad, bad_run))
    ]
    after = _state()
    assert results[0]["error"] is None and results[0]["returncode"] == 0
    assert "Input should be greater than 0" in results[1]["error"]
    assert results[1]["returncode"] == 1
    assert client.get_run(good_run).info.status == "FINISHED"
    assert 0 <= client.get_run(good_run).data.metrics["val_accuracy"] <= 1
    assert after[:2] == before[:2] and torch.equal(after[2], before[2])
    assert after[3:] == (None, None, None)  # no variable, no active MLflow run
    # the same point again, in the same process: the same numbers
    again, again_run, _ = _point(project, 1)
    assert run_point(str(project), again, again_run)["error"] is None
    assert (
        client.get_run(again_run).data.metrics["val_accuracy"]
        == client.get_run(good_run).data.metrics["val_accuracy"]
    )


def test_a_point_draws_no_figures_and_its_saved_model_is_logged_later(project):
    point, run_id, client = _point(project, 4)
    outcome = run_point(str(project), point, run_id)
    assert outcome["error"] is None
    run = client.get_run(run_id)
    assert run.data.params["epochs"] == "1"  # the variant's record, as params
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert "model.pt" in artifacts and not any(a.endswith(".png") for a in artifacts)
    assert not run.outputs.model_outputs  # no MLflow model unless asked
    assert not list(project.glob("data/08_reporting/simple2d/linear/*.png/*/*"))

    servable = str(outcome["servable"])
    model_id = log_model(str(project), "test", run_id, PIPELINE, servable)
    [logged] = client.get_run(run_id).outputs.model_outputs
    assert logged.model_id == model_id
    model = client.get_logged_model(model_id)
    assert model.source_run_id == run_id
    metrics = {m.key: m for m in model.metrics}  # the run's, at its last epoch
    assert metrics["val_accuracy"].value == run.data.metrics["val_accuracy"]
    assert metrics["val_accuracy"].step == 1
    assert mlflow.active_run() is None


@pytest.mark.slow
def test_a_workers_memory_stays_flat_over_many_points(project):
    rss = []
    for number in range(100):
        point, run_id, _ = _point(project, 100 + number)
        assert run_point(str(project), point, run_id)["error"] is None
        rss.append(psutil.Process().memory_info().rss)
    # after the first points (caches, the first compile of every code path),
    # 90 more points add less than 40 MB
    growth = (rss[-1] - rss[9]) / 2**20
    assert growth < 40, f"{growth:.0f} MB over 90 points: {[r >> 20 for r in rss]}"


def test_a_pruned_point_stops_at_once_and_says_when(project):
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1.1)
    )  # prunes every point at its first epoch
    point, run_id, client = _point(project, 3, **{"simple2d.training.epochs": 5})
    outcome = run_point(str(project), point, run_id, trial=study.ask())
    assert outcome["error"] is None and outcome["pruned_epoch"] == 1
    history = client.get_metric_history(run_id, "val_accuracy")
    assert [m.step for m in history] == [1]  # trained one epoch of five


def test_a_search_resumes_its_study_and_fails_points_left_running():
    spec = SweepSpec.model_validate(
        {
            "pipelines": ["simple2d.mlp"],
            "grid": {"simple2d.training.lr": [0.1, 0.01, 0.001]},
            "search": {"sampler": "grid"},
        }
    )
    study = open_study(spec, "resumed", "sqlite:///:memory:")
    first, second = study.ask(), study.ask()  # a stopped sweep's two points
    next_point(first, spec), next_point(second, spec)
    study.tell(first, 0.9)
    assert budget_left(study, spec) == 2  # 3 grid points, 1 done
    assert study.trials[second.number].state == TrialState.FAIL
    point = next_point(study.ask(), spec)
    assert point.id == "point-003" and point.pipeline == "simple2d.mlp"
    assert point.swept["simple2d.training.lr"] in (0.1, 0.01, 0.001)


def test_a_searchs_optuna_plots_draw_and_save(tmp_path):
    study = optuna.create_study(direction="maximize")
    width, lr = "digits.mlp.model.hidden_sizes", "digits.training.lr"
    for params in ({width: "[32]", lr: 3e-4}, {width: "[64]", lr: 1e-3}):
        study.enqueue_trial(params)  # two values on each axis, whatever the sampler
    for value in (0.91, 0.95, 0.93):
        trial = study.ask()
        trial.suggest_categorical(width, ["[32]", "[64]"])
        trial.suggest_float(lr, 3e-4, 3e-3, log=True)
        study.tell(trial, value)
    figures = optuna_plots(study)
    assert set(figures) == {"history", "parallel_coordinate"}
    for name, figure in figures.items():
        figure.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_an_interrupted_sweep_kills_its_open_points_even_one_half_created(tmp_path):
    """Ctrl-C can land between MLflow creating a point's run and the tracker
    noting it: that run is found in the store and closed too."""
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("sweeps")
    tracker = SweepTracker(client, experiment_id, "stopped")
    points = [Point(n, PIPELINE, {"seed": n}, {"seed": n}, None) for n in (1, 2, 3)]
    tracker.start(points, {})
    finished = tracker.create_point(points[0])
    client.set_terminated(finished, "FINISHED")
    tracker.close_point(finished, {"error": None, "servable": None, "returncode": 0})
    scheduled = tracker.create_point(points[1])
    half = client.create_run(  # what create_point had done when the stop landed
        experiment_id, tags={"mlflow.parentRunId": tracker.run_id}
    ).info.run_id

    assert tracker.interrupted() == 2
    status = {
        run_id: client.get_run(run_id).info.status
        for run_id in (finished, scheduled, half)
    }
    assert status == {finished: "FINISHED", scheduled: "KILLED", half: "KILLED"}
    assert client.get_run(tracker.run_id).info.status == "KILLED"
