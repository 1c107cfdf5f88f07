"""A 12-point 2D sweep on one and on two warm workers, against one point's run.

Copies the project's ``conf/`` into a temporary project folder and runs
``kedro sweep simple2d_lr`` (the three 2D variants x two learning rates x two
seeds at 2 epochs, ``conf/base/sweeps/simple2d_lr.yml``) on a ``LocalCluster``
of one warm worker (sequential: one point after another) and of two,
alternating, ``--repeats`` times each, in fresh processes against one SQLite
store, and one point's own ``kedro run --pipelines simple2d.linear --params
simple2d.training.epochs=2`` before each. A warm-up point first fills the
compile cache they share. Prints the wall time of each, the ratios 2-worker
sweep / one point's run (target <= 2.0) and parallel / sequential, each
point's seconds split into training and the rest on its warm worker (Kedro
session, data, evaluation, the servable model, MLflow logging; target: median
<= 0.5 s), the time a bare ``python -c 'import torch, kedro, mlflow'`` takes, and
the points' mean final accuracy per variant, so a speed-up never hides a
change of result.

    python benchmarks/sweep_speed.py [--repeats 1] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient
from projects import copy_project, scratch

KEDRO = str(Path(sys.executable).with_name("kedro"))
SWEEP = "simple2d_lr"


def _run(command: list[str], folder: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode})")
    return wall


def _latest_summary(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob(f"data/08_reporting/sweeps/{SWEEP}/summary.csv/*/*"))
    return pd.read_csv(files[-1])


def _training_seconds(client: MlflowClient, run_id: str) -> float:
    return sum(m.value for m in client.get_metric_history(run_id, "train_seconds"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--keep", type=Path, help="run in this (new) folder and keep it afterwards"
    )
    args = parser.parse_args()
    with scratch(args.keep, "sweep-speed-") as tmp:
        folder = copy_project(tmp / "project")
        store = f"sqlite:///{folder / 'mlflow.db'}"
        env = os.environ | {
            "DO_NOT_TRACK": "true",
            "KEDRO_DISABLE_TELEMETRY": "true",
            "MLFLOW_TRACKING_URI": store,
            "TORCHINDUCTOR_CACHE_DIR": str(tmp / "compile-cache"),
        }
        imports = _run(
            [sys.executable, "-c", "import torch, kedro, mlflow"], folder, env
        )
        for variant in ("linear", "mlp", "polar_linear"):  # warm-up: compile cache
            _run(
                [KEDRO, "run", f"--pipelines=simple2d.{variant}"]
                + ["--params=simple2d.training.epochs=1"],
                folder,
                env,
            )
        walls: dict[int, list[float]] = {0: [], 1: [], 2: []}  # 0: one point's run
        tables = []
        for repeat in range(args.repeats):
            walls[0].append(
                _run(
                    [KEDRO, "run", "--pipelines=simple2d.linear"]
                    + ["--params=simple2d.training.epochs=2"],
                    folder,
                    env,
                )
            )
            for workers in (1, 2):
                wall = _run(
                    [KEDRO, "sweep", SWEEP, "--workers", str(workers), "--rerun"],
                    folder,
                    env,
                )
                walls[workers].append(wall)
                table = _latest_summary(folder).assign(workers=workers)
                tables.append(table)
                sys.stdout.write(
                    f"repeat {repeat + 1}, {workers} worker(s): {len(table)} points "
                    f"in {wall:.1f} s wall\n"
                )
                sys.stdout.flush()
        client = MlflowClient(store)
        points = pd.concat(tables, ignore_index=True)
        points["training"] = [_training_seconds(client, r) for r in points["run_id"]]
    single, sequential, parallel = (statistics.median(walls[w]) for w in (0, 1, 2))
    lines = [
        "",
        f"| ({len(tables[0])} points, 2 epochs) | wall s (median of "
        f"{args.repeats}) | vs one point's run | vs sequential |",
        "|---|---:|---:|---:|",
        f"| one point's own `kedro run` | {single:.1f} | 1.00 | |",
        f"| sweep, sequential (1 worker) | {sequential:.1f} | "
        f"{sequential / single:.2f} | 1.00 |",
        f"| sweep, 2 workers | {parallel:.1f} | {parallel / single:.2f} "
        f"(target <= 2.0) | {parallel / sequential:.2f} |",
        "",
        "| workers | point s (median) | training s | the rest s (median; target "
        "<= 0.5) |",
        "|---:|---:|---:|---:|",
    ]
    for workers, group in points.groupby("workers"):
        lines.append(
            f"| {workers} | {group['seconds'].median():.2f} | "
            f"{group['training'].median():.2f} | "
            f"{(group['seconds'] - group['training']).median():.2f} |"
        )
    lines += [
        "",
        f"`python -c 'import torch, kedro, mlflow'` alone: {imports:.1f} s",
        "",
        "| variant | lr | mean val_accuracy (seeds 0, 1; 1 worker) | 2 workers |",
        "|---|---:|---:|---:|",
    ]
    accuracy = points.groupby(["pipeline", "simple2d.training.lr", "workers"])[
        "val_accuracy"
    ].mean()
    for (pipeline, lr), row in accuracy.unstack("workers").iterrows():
        lines.append(f"| {pipeline} | {lr:g} | {row[1]:.4f} | {row[2]:.4f} |")
    sys.stdout.write("\n".join(lines) + "\n")
    bad = points[points["status"] != "FINISHED"]
    if len(bad):
        sys.stderr.write(f"{len(bad)} point(s) did not finish:\n{bad}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
