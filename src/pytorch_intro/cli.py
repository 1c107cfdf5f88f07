"""Project commands (Kedro reads ``<package>/cli.py``; these override its own).

``kedro run`` runs on :class:`pytorch_intro.runner.VariantRunner` unless
``--runner`` says otherwise; ``kedro sweep NAME`` runs a sweep; ``kedro
mlflow-ui`` serves the MLflow UI with the addresses of the project's views.
"""

from __future__ import annotations

import atexit
import gc
import os
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.project import pipelines

from pytorch_intro import workers
from pytorch_intro.datasets.run_identity import experiment_addresses
from pytorch_intro.hooks.run_guard import check_namespaces
from pytorch_intro.preflight import PreflightError

DEFAULT_RUNNER = "pytorch_intro.runner.VariantRunner"


@click.group(name="pytorch-intro")
def cli() -> None:
    """The project's commands."""


@cli.command(name="run", params=list(kedro_run.params), help=kedro_run.help)
def run(**options: Any) -> Any:
    if options.get("namespaces"):  # here: Kedro's session fails on some first
        try:
            check_namespaces(options["namespaces"], pipelines.keys())
        except PreflightError as error:
            raise click.ClickException(str(error)) from None
    options["runner"] = options.get("runner") or DEFAULT_RUNNER
    names = options.get("pipelines") or [options.get("pipeline") or "__default__"]
    if options["runner"] == DEFAULT_RUNNER and all(n in pipelines for n in names):
        nodes = [node for name in names for node in pipelines[name].nodes]
        if workers.count(nodes) > 1:
            workers.warm_up()  # the workers' imports overlap Kedro's set-up
    result = kedro_run.callback(**options)
    # The run is saved and its MLflow runs ended: at exit, the interpreter's
    # last collections would walk every object torch, MLflow and matplotlib
    # made (about 2 s) to free memory the end of the process frees anyway.
    atexit.register(gc.freeze)
    return result


@cli.command(name="mlflow-ui")
@click.option("--env", "-e", help="The Kedro environment.")
def mlflow_ui(env: str | None) -> None:
    """Print the addresses of the experiment's runs (in MLflow's model-training
    view) and of its models, then serve the MLflow UI on the project's store
    (conf/<env>/mlflow.yml: its tracking URI, ui.host and ui.port)."""
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    with KedroSession.create(env=env) as session:
        config = session.load_context().mlflow  # kedro-mlflow's, validated
    uri, ui = config.server.mlflow_tracking_uri, config.ui
    experiment = MlflowClient(uri).get_experiment_by_name(
        config.tracking.experiment.name
    )
    if experiment is None:
        click.echo("No runs yet: `kedro run` records the first.")
    else:
        for view, address in experiment_addresses(
            f"http://{ui.host}:{ui.port}", experiment.experiment_id
        ).items():
            click.echo(f"{view}: {address}")
    command = ["mlflow", "ui", "--backend-store-uri", uri]
    command += ["--host", ui.host, "--port", str(ui.port)]
    os.execvp(command[0], command)  # noqa: S606 - becomes the server


@cli.command()
@click.argument("name")
@click.option("--scheduler", help="A Dask scheduler, e.g. tcp://HOST:8786.")
@click.option("--workers", type=int, help="LocalCluster workers (default: cores).")
@click.option("--rerun", is_flag=True, help="Run again the points already FINISHED.")
@click.option("--env", "-e", help="The Kedro environment.")
@click.option("--log-models", is_flag=True, help="Log every point's MLflow model too.")
def sweep(
    name: str,
    scheduler: str | None,
    workers: int | None,
    rerun: bool,
    env: str | None,
    log_models: bool,
) -> None:
    """Run the sweep NAME (conf/<env>/sweeps/NAME.yml) on a Dask cluster.

    Every point is the variant's pipeline with its --params, run in a warm
    worker process and recorded as a child run of the sweep's MLflow run; see
    docs/sweeps.md.
    """
    from pytorch_intro.sweeps.command import main  # noqa: PLC0415 - Dask only here

    main(name, scheduler, workers, rerun, env, log_models)
