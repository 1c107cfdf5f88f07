"""Time to accuracy: the fast environment against the assignment's settings.

Trains each digits variant on full MNIST twice in one run, with the
parameters of ``conf/base`` (the assignment's: batch 16, constant lr 1e-3,
5 epochs) and of ``conf/fast`` (``kedro run --env fast``), and prints the
training time until the test accuracy first reaches the assignment's figure
(checked after every epoch), the whole training time and the final accuracy.

    python benchmarks/time_to_accuracy.py [--mnist data/01_raw/mnist] [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import torch
from kedro.config import OmegaConfigLoader

from pytorch_intro.data.mnist import read_canonical
from pytorch_intro.models import ModelConfig
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.settings import CONFIG_LOADER_ARGS
from pytorch_intro.train_eval.nodes import resolve_training
from pytorch_intro.training import EpochResult, to_tensors
from pytorch_intro.training import train as train_model

# The assignment's test accuracies and this time targets (s of training).
TARGETS = {"linear": (0.915, 1.0), "mlp": (0.95, 2.0), "cnn": (0.985, 10.0)}


def _parameters(env: str) -> dict:
    loader = OmegaConfigLoader(
        conf_source="conf",
        base_env="base",
        default_run_env=env,
        merge_strategy=CONFIG_LOADER_ARGS["merge_strategy"],
    )
    return loader["parameters"]["digits"]


def time_to(history: list[EpochResult], target: float) -> float | None:
    """Training seconds until the first epoch at or above ``target``, if any."""
    elapsed = 0.0
    for result in history:
        elapsed += result.train_seconds
        if result.val_accuracy >= target:
            return elapsed
    return None


def _seconds(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "not reached"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=Path("data/01_raw/mnist"))
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/time_to_accuracy.md")
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)
    warnings.filterwarnings("ignore", "register_new_resolver")  # kedro's, not ours
    splits = read_canonical(args.mnist)
    train, test = (
        to_tensors(preprocess("pixels", splits[s]["images"]), splits[s]["labels"])
        for s in ("train", "test")
    )
    environments = {env: _parameters(env) for env in ("base", "fast")}
    lines = [
        f"# Time to accuracy, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`python benchmarks/time_to_accuracy.py` on {platform.machine()}, "
        f"torch {torch.__version__}; full MNIST, seconds of training (evaluation "
        "after each epoch not counted).",
        "",
        "| variant | target | settings | batch | epochs | s to target | s in all "
        "| final accuracy | goal |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for variant, (target, goal) in TARGETS.items():
        times = {}
        for env, params in environments.items():
            config = resolve_training(params["training"], params[variant])
            model = ModelConfig.model_validate(params[variant]["model"])
            history = train_model(model, train, test, config).histories[0]
            times[env] = time_to(history, target)
            met = (
                "-"
                if env == "base"
                else (
                    "met"
                    if times["fast"] is not None and times["fast"] <= goal
                    else "missed"
                )
                + f" (<= {goal:g} s)"
            )
            lines.append(
                f"| {variant} | {target} | {env} ({config.schedule}, lr {config.lr:g}) "
                f"| {config.batch_size} | {config.epochs} | {_seconds(times[env])} | "
                f"{sum(r.train_seconds for r in history):.2f} | "
                f"{history[-1].val_accuracy:.4f} | {met} |"
            )
            sys.stdout.write(lines[-1] + "\n")
            sys.stdout.flush()
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    sys.stdout.write("\n" + text + f"\n(written to {args.out})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
