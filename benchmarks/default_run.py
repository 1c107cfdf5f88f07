"""The default ``kedro run``, timed as a user sees it: a first and a second run.

Copies the project's ``conf/`` into a temporary project folder with the
canonical MNIST files (``--mnist``), then runs ``kedro run`` (all six variants
at the assignment's settings, and the report) twice in fresh processes, on one
compile cache that starts empty: the first run pays the full compile of the
CNN's training step, the second finds it cached. Prints the wall time of each,
the compile seconds and each variant's final accuracy (from the run's MLflow
store), so a speed-up never hides a change of result.

    python benchmarks/default_run.py [--mnist data/01_raw/mnist] [--runs 2] [--keep FOLDER]
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


def _variants(store: Path, parent_id: str) -> dict[str, tuple[float, str, str]]:
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("pytorch-intro")
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    return {
        run.info.run_name: (
            run.data.metrics["val_accuracy"],
            run.data.params.get("step", "?"),
            run.data.params.get("compile_seconds", "?"),
        )
        for run in runs
    }


def _latest_parent(store: Path) -> str:
    """The latest ``kedro run``'s own run (named "__default__ <date>")."""
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("pytorch-intro")
    [parent] = client.search_runs(
        [experiment.experiment_id],
        "attributes.run_name LIKE '__default__%'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return parent.info.run_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=PROJECT / "data/01_raw/mnist")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--keep", type=Path, help="run in this (new) folder and keep it afterwards"
    )
    args = parser.parse_args()
    if not all(
        (args.mnist / name).exists() for name in ("train-images-idx3-ubyte.gz",)
    ):
        parser.error(f"{args.mnist}: the canonical MNIST files are needed (--mnist)")
    with scratch(args.keep, "default-run-") as tmp:
        folder = copy_project(tmp / "project", args.mnist)
        env = os.environ | {
            "DO_NOT_TRACK": "true",
            "KEDRO_DISABLE_TELEMETRY": "true",
            "TORCHINDUCTOR_CACHE_DIR": str(tmp / "compile-cache"),  # empty
        }
        rows = []
        for number in range(1, args.runs + 1):
            started = time.perf_counter()
            done = subprocess.run(
                [KEDRO, "run"],
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
            variants = _variants(
                folder / "mlflow.db", _latest_parent(folder / "mlflow.db")
            )
            rows.append((number, wall, variants))
            sys.stdout.write(f"run {number}: {wall:.1f} s wall\n")
            sys.stdout.flush()
    names = sorted(rows[0][2])
    lines = [
        "| run | wall s | " + " | ".join(names) + " | CNN step, compile s |",
        "|---|---:|" + "---:|" * len(names) + "---|",
    ]
    for number, wall, variants in rows:
        cnn = variants.get("digits.cnn", (0.0, "?", "?"))
        lines.append(
            f"| {'first' if number == 1 else 'second' if number == 2 else number} "
            f"| {wall:.1f} | "
            + " | ".join(f"{variants[name][0]:.4f}" for name in names)
            + f" | {cnn[1]}, {cnn[2]} |"
        )
    sys.stdout.write("\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
