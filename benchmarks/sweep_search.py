"""A search against the full grid: the best accuracy each reaches, and the
training epochs each spends, in one run.

Copies the project's ``conf/`` (with the canonical MNIST files, ``--mnist``)
into a temporary project and runs ``kedro sweep digits_width`` (the MLP's
width x 2 sampled learning rates x 3 seeds: 18 points of 5 epochs) and then
``kedro sweep digits_width_tpe`` (Optuna's TPE over the width and a
log-uniform learning rate, 9 points at most, a median pruner), both on
``--workers`` warm workers. Prints each sweep's wall time, its best final
validation accuracy, the epochs its points trained (from MLflow: pruned points
count only the epochs they trained) and the ratios against the grid (target:
the search within 0.3 accuracy points of the grid's best, in <= 50% of its
epochs).

    python benchmarks/sweep_search.py [--mnist data/01_raw/mnist] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient
from projects import PROJECT, copy_project, scratch

KEDRO = str(Path(sys.executable).with_name("kedro"))
SWEEPS = ("digits_width", "digits_width_tpe")


def _sweep_runs(client: MlflowClient, name: str) -> list:
    """The points of the latest run of sweep ``name``."""
    experiment = client.get_experiment_by_name("pytorch-intro")
    [sweep] = client.search_runs(
        [experiment.experiment_id],
        f"tags.`pytorch_intro.sweep` = '{name}' and tags.`pytorch_intro.points` != ''",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return client.search_runs(
        [experiment.experiment_id],
        f"tags.`mlflow.parentRunId` = '{sweep.info.run_id}'",
        max_results=1000,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=PROJECT / "data/01_raw/mnist")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="run in this (new) folder")
    args = parser.parse_args()
    if not (args.mnist / "train-images-idx3-ubyte.gz").exists():
        parser.error(f"{args.mnist}: the canonical MNIST files are needed (--mnist)")
    rows = {}
    with scratch(args.keep, "sweep-search-") as tmp:
        folder = copy_project(tmp / "project", args.mnist)
        env = os.environ | {
            "DO_NOT_TRACK": "true",
            "KEDRO_DISABLE_TELEMETRY": "true",
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        }
        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        for name in SWEEPS:
            started = time.perf_counter()
            done = subprocess.run(
                [KEDRO, "sweep", name, "--workers", str(args.workers)],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - started
            if done.returncode != 0:
                sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
                return done.returncode
            points = _sweep_runs(client, name)
            epochs = sum(
                len(client.get_metric_history(run.info.run_id, "val_accuracy"))
                for run in points
            )
            finished = [
                run.data.metrics["val_accuracy"]
                for run in points
                if "pytorch_intro.pruned_epoch" not in run.data.tags
                and "val_accuracy" in run.data.metrics
            ]
            pruned = sum("pytorch_intro.pruned_epoch" in r.data.tags for r in points)
            rows[name] = (wall, len(points), pruned, epochs, max(finished))
            sys.stdout.write(f"{name}: {wall:.1f} s wall\n")
            sys.stdout.flush()
    grid = rows[SWEEPS[0]]
    lines = [
        "",
        "| sweep | wall s | points | pruned | epochs trained | best val_accuracy "
        "| epochs vs grid | best vs grid (points) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (wall, points, pruned, epochs, best) in rows.items():
        lines.append(
            f"| {name} | {wall:.1f} | {points} | {pruned} | {epochs} | {best:.4f} | "
            f"{epochs / grid[3]:.2f} | {100 * (best - grid[4]):+.2f} |"
        )
    lines.append(
        "\nTarget: the search within 0.3 points of the grid's best in <= 0.50 "
        "of its epochs."
    )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
