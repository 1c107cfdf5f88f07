"""The default ``kedro run`` against the assignment's own loop, in one run.

1. The baseline: the assignment's loop (``reference_loop.py``: per-sample
   Dataset, DataLoader, batch 16) training its CNN for the default 5 epochs on
   the canonical MNIST files, with each DataLoader worker count given (its best
   is the baseline).
2. The default ``kedro run`` (six variants, report, MLflow models, registry) in
   a copy of the project, twice in fresh processes on one compile cache that
   starts empty: cold (the CNN's step compiles), then warm. For each: the wall
   time, the sum of the variants' training seconds (MLflow's ``train_seconds``,
   every epoch), the peak memory of the run's processes together (the sum of
   their proportional set sizes, sampled every 0.5 s) and each variant's
   accuracy, so a speed-up never hides a change of result.
3. N seeds trained together against N single runs of each model (one epoch;
   a run's cost: its training seconds plus its compile seconds, each on a
   compile cache the same job has filled).

    python benchmarks/default_run.py [--mnist data/01_raw/mnist] [--runs 2]
        [--reference-workers 0] [--seeds 3] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
from mlflow.tracking import MlflowClient
from projects import PROJECT, copy_project, scratch

KEDRO = str(Path(sys.executable).with_name("kedro"))
VARIANTS = ("simple2d.linear", "simple2d.mlp", "simple2d.polar_linear")
VARIANTS += ("digits.linear", "digits.mlp", "digits.cnn")
#: Targets of the default-run issue (ratios; lower is better).
TARGETS = {"warm": 0.40, "cold": 0.70, "wall / training": 0.80}


def _variants(store: Path) -> dict[str, dict[str, float]]:
    """The latest ``kedro run``'s variants: accuracy and training seconds."""
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("pytorch-intro")
    [parent] = client.search_runs(
        [experiment.experiment_id],
        "attributes.run_name LIKE '__default__%'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    runs = client.search_runs(
        [experiment.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    return {
        run.info.run_name: {
            "accuracy": run.data.metrics["val_accuracy"],
            "train_seconds": sum(
                m.value
                for m in client.get_metric_history(run.info.run_id, "train_seconds")
            ),
            "compile_seconds": float(run.data.params.get("compile_seconds", 0) or 0),
        }
        for run in runs
    }


class PeakMemory:
    """The largest sum of the PSS of a process and its descendants, sampled."""

    def __init__(self, pid: int) -> None:
        self.peak, self._pid, self._done = 0, pid, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.5):
            try:
                root = psutil.Process(self._pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            total = 0
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += process.memory_full_info().pss
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        """Stop sampling; the peak in GiB."""
        self._done.set()
        self._thread.join()
        return self.peak / 2**30


def _kedro_run(folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """One ``kedro run``: (wall seconds, peak memory GiB)."""
    started = time.perf_counter()
    with subprocess.Popen(
        [KEDRO, "run"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        memory = PeakMemory(process.pid)
        output, _ = process.communicate()
    wall = time.perf_counter() - started
    peak = memory.stop()
    if process.returncode != 0:
        sys.stderr.write(output[-5000:])
        raise SystemExit(process.returncode)
    return wall, peak


def _spawned(job: tuple) -> object:
    """A ``train_speed`` job in a fresh process (its own warm-up and memory)."""
    import train_speed  # noqa: PLC0415 - in the spawned process

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(train_speed._run, job).result()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=PROJECT / "data/01_raw/mnist")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--reference-workers",
        default="0",
        help="DataLoader worker counts of the baseline (its best is used)",
    )
    parser.add_argument("--epochs", type=int, default=5, help="the baseline's")
    parser.add_argument("--seeds", type=int, default=3, help="N (1: skip part 3)")
    parser.add_argument(
        "--seeds-only", action="store_true", help="part 3 alone (no baseline, no runs)"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS), help="of part 3")
    parser.add_argument(
        "--keep", type=Path, help="run in this (new) folder and keep it afterwards"
    )
    args = parser.parse_args()
    if not (args.mnist / "train-images-idx3-ubyte.gz").exists():
        parser.error(f"{args.mnist}: the canonical MNIST files are needed (--mnist)")
    out = sys.stdout

    if not args.seeds_only:
        references = []
        for workers in (int(w) for w in args.reference_workers.split(",")):
            job = (
                "reference",
                "",
                ("digits.cnn", workers, args.epochs, args.mnist),
                {},
            )
            result = _spawned(job)
            references.append((sum(result.seconds), workers, result.accuracy))
            out.write(
                f"assignment loop, CNN, {args.epochs} epochs, {workers} DataLoader "
                f"workers: {sum(result.seconds):.1f} s (accuracy {result.accuracy:.4f})\n"
            )
            out.flush()
        baseline, best_workers, _ = min(references)

        rows = []
        with scratch(args.keep, "default-run-") as tmp:
            folder = copy_project(tmp / "project", args.mnist)
            env = os.environ | {
                "DO_NOT_TRACK": "true",
                "KEDRO_DISABLE_TELEMETRY": "true",
                "TORCHINDUCTOR_CACHE_DIR": str(tmp / "compile-cache"),  # empty
            }
            for number in range(1, args.runs + 1):
                wall, peak = _kedro_run(folder, env)
                variants = _variants(folder / "mlflow.db")
                rows.append((number, wall, peak, variants))
                out.write(
                    f"kedro run {number}: {wall:.1f} s wall, peak {peak:.2f} GiB\n"
                )
                out.flush()

        names = sorted(rows[0][3])
        lines = [
            f"Baseline: the assignment's loop training its CNN for {args.epochs} epochs "
            f"({best_workers} DataLoader workers): {baseline:.1f} s.",
            "",
            "| run | wall s | vs baseline | target | training s (sum) | wall / training "
            "| peak GiB | " + " | ".join(names) + " |",
            "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(names),
        ]
        for number, wall, peak, variants in rows:
            kind = "cold" if number == 1 else "warm"
            training = sum(v["train_seconds"] for v in variants.values())
            lines.append(
                f"| {kind} | {wall:.1f} | {wall / baseline:.2f}x | <= {TARGETS[kind]:.2f}x "
                f"| {training:.1f} | {wall / training:.2f}x (<= "
                f"{TARGETS['wall / training']:.2f}x) | {peak:.2f} | "
                + " | ".join(f"{variants[name]['accuracy']:.4f}" for name in names)
                + " |"
            )
        out.write("\n" + "\n".join(lines) + "\n")

    if args.seeds > 1:
        out.write(
            f"\nN = {args.seeds} seeds together against N single runs, 1 epoch\n\n"
        )
        out.write("| model | single run s | N single runs s | together s | ratio |\n")
        out.write("|---|---:|---:|---:|---:|\n")
        cache = tempfile.mkdtemp(prefix="seeds-inductor-")
        for variant in args.variants.split(","):
            base = (variant, 1, args.mnist)
            # each timed on a compile cache the same job has filled
            one, many = (
                [_spawned(("product", cache, base, kw)) for _ in range(2)][-1]
                for kw in (
                    {"compile": "auto"},
                    {"compile": "auto", "seeds": args.seeds},
                )
            )
            single = sum(one.seconds) + one.compile_seconds
            together = sum(many.seconds) + many.compile_seconds
            out.write(
                f"| {variant} | {single:.2f} | {args.seeds * single:.2f} | "
                f"{together:.2f} | {together / (args.seeds * single):.2f} |\n"
            )
            out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
