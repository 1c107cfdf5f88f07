"""Training speed: the assignment's loop against the product's, on the same data.

For each of the six variants, at the default hyperparameters (Adam lr 1e-3;
batch 8 on the 2D point sets, batch 16 on MNIST), trains ``--epochs`` epochs
with:

- ``reference, N workers``: the assignment's loop (benchmarks/reference_loop.py:
  per-sample Dataset + DataLoader), for each worker count in ``--workers``
  (4 is the assignment's; the fastest one measured here is "best reference");
- ``product``: ``pytorch_intro.training.fit``, as ``kedro run`` trains;
- ``product, N seeds together``: ``--seeds`` copies trained as one stacked model
  (``training.seeds``), whose time is compared with one seed's.

Each run is a fresh process (so peak memory is its own), evaluated on the same
validation/test set. Prints and writes (``--out``) s/epoch, samples/s, peak
memory (RSS of the training process; DataLoader workers not included), the
final accuracy, and the speed-up against the 4-worker and the best reference
measured in the same run (this machine is noisy: read ratios, not seconds).

    python benchmarks/train_speed.py [--epochs 1] [--variants digits.cnn,...]
        [--workers 4,0] [--seeds 5] [--device cpu] [--mnist data/01_raw/mnist]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import platform
import resource
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from reference_loop import (
    DigitsDataset,
    PointsDataset,
    loaders,
    run_training_epoch,
    run_validation_epoch,
)

from pytorch_intro.data.mnist import normalize_images, read_canonical
from pytorch_intro.data.points import (
    PointSetGeneratorConfig,
    generate_point_sets,
    to_polar,
)
from pytorch_intro.models import ModelConfig, build_model
from pytorch_intro.training import (
    TrainingConfig,
    fit,
    resolve_device,
    seeded,
    to_tensors,
)
from pytorch_intro.training.seeds import fit_seeds

VARIANTS: dict[str, tuple[ModelConfig, str]] = {
    "simple2d.linear": (ModelConfig("linear", 2, 1), "xy"),
    "simple2d.mlp": (ModelConfig("mlp", 2, 1, [16, 16]), "xy"),
    "simple2d.polar_linear": (ModelConfig("linear", 2, 1), "polar"),
    "digits.linear": (ModelConfig("linear", 784, 10), "digits"),
    "digits.mlp": (ModelConfig("mlp", 784, 10, [32]), "digits"),
    "digits.cnn": (
        ModelConfig(
            "cnn", out_features=10, in_channels=1, channels=[8, 16, 32], kernel_size=3
        ),
        "digits",
    ),
}
BATCH = {"xy": 8, "polar": 8, "digits": 16}
LR, SEED = 1e-3, 0


@dataclass
class Result:
    variant: str
    loop: str
    seconds: list[float]  # per epoch
    samples: int  # per epoch
    peak_mb: float
    accuracy: float

    @property
    def per_epoch(self) -> float:
        return statistics.median(self.seconds)


def _data(kind: str, mnist: Path) -> tuple[dict, dict]:
    """Raw training and validation data: points (x-y or polar) or uint8 digits."""
    if kind == "digits":
        splits = read_canonical(mnist)
        return splits["train"], splits["test"]
    train, valid = generate_point_sets(PointSetGeneratorConfig(seed=SEED))
    return (to_polar(train), to_polar(valid)) if kind == "polar" else (train, valid)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reference(variant: str, workers: int, epochs: int, mnist: Path) -> Result:
    model_config, kind = VARIANTS[variant]
    train, valid = _data(kind, mnist)
    if kind == "digits":
        datasets = (
            DigitsDataset(train["images"], train["labels"]),
            DigitsDataset(valid["images"], valid["labels"]),
        )
    else:
        datasets = (
            PointsDataset(train["samples"], train["annotations"]),
            PointsDataset(valid["samples"], valid["annotations"]),
        )
    train_loader, valid_loader = loaders(*datasets, BATCH[kind], workers, SEED)
    with seeded(SEED):
        model = build_model(model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        run_training_epoch(model, train_loader, optimizer)
        seconds.append(time.perf_counter() - started)
    accuracy = run_validation_epoch(model, valid_loader)
    return Result(
        variant,
        f"reference, {workers} workers",
        seconds,
        len(datasets[0]),
        _peak_mb(),
        accuracy,
    )


def _product(
    variant: str, epochs: int, mnist: Path, device: str = "cpu", seeds: int = 1
) -> Result:
    model_config, kind = VARIANTS[variant]
    train, valid = _data(kind, mnist)
    if kind == "digits":
        train = {
            "samples": normalize_images(train["images"]),
            "annotations": train["labels"],
        }
        valid = {
            "samples": normalize_images(valid["images"]),
            "annotations": valid["labels"],
        }
    config = TrainingConfig(
        epochs=epochs, batch_size=BATCH[kind], lr=LR, seed=SEED, device=device
    )
    models = []
    for seed in range(SEED, SEED + seeds):
        with seeded(seed):
            models.append(build_model(model_config))
    data = (
        to_tensors(train["samples"], train["annotations"]),
        to_tensors(valid["samples"], valid["annotations"]),
    )
    if seeds == 1:
        history = fit(models[0], *data, config)
    else:
        history = fit_seeds(models, list(range(SEED, SEED + seeds)), *data, config)[1][
            0
        ]
    label = "product" if device == "cpu" else f"product, {resolve_device(device)}"
    return Result(
        variant,
        label if seeds == 1 else f"{label}, {seeds} seeds together",
        [row.train_seconds for row in history],
        len(train["annotations"]),
        _peak_mb(),
        history[-1].val_accuracy,
    )


def _run(job: tuple) -> Result:
    logging.disable(logging.INFO)
    # the 4-worker form is the assignment's, measured as it is: no advice needed
    warnings.filterwarnings("ignore", "This DataLoader will create")
    kind, *args = job
    return _reference(*args) if kind == "reference" else _product(*args)


def _table(results: list[Result]) -> list[str]:
    lines = [
        "| variant | loop | s/epoch | samples/s | peak MB | accuracy "
        "| vs 4 workers | vs best reference | time vs product |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in dict.fromkeys(r.variant for r in results):
        rows = [r for r in results if r.variant == variant]
        references = [r for r in rows if r.loop.startswith("reference")]
        four = next((r for r in references if r.loop == "reference, 4 workers"), None)
        best = min(references, key=lambda r: r.per_epoch, default=None)
        product = next((r for r in rows if r.loop.startswith("product")), None)
        for r in rows:
            vs_four = f"{four.per_epoch / r.per_epoch:.1f}x" if four else "-"
            vs_best = f"{best.per_epoch / r.per_epoch:.1f}x" if best else "-"
            label = f"{r.loop} (best)" if r is best and len(references) > 1 else r.loop
            vs_product = f"{r.per_epoch / product.per_epoch:.2f}x" if product else "-"
            lines.append(
                f"| {variant} | {label} | {r.per_epoch:.2f} | "
                f"{r.samples / r.per_epoch:,.0f} | {r.peak_mb:,.0f} | "
                f"{r.accuracy:.4f} | {vs_four} | {vs_best} | {vs_product} |"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--workers", default="4,0")
    parser.add_argument("--mnist", type=Path, default=Path("data/01_raw/mnist"))
    parser.add_argument(
        "--device", default="cpu", help="the product's device (auto: CUDA if present)"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="also train this many seeds together (1: no)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/train_speed.md")
    )
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    jobs = []
    for variant in variants:
        jobs += [("reference", variant, w, args.epochs, args.mnist) for w in workers]
        jobs.append(("product", variant, args.epochs, args.mnist, args.device))
        if args.seeds > 1:
            jobs.append(
                ("product", variant, args.epochs, args.mnist, args.device, args.seeds)
            )

    results = []
    context = multiprocessing.get_context("spawn")
    for job in jobs:
        # one fresh process per run: its own peak memory, no shared warm-up
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            result = pool.submit(_run, job).result()
        results.append(result)
        sys.stdout.write(
            f"{result.variant:24s} {result.loop:22s} {result.per_epoch:7.2f} s/epoch  "
            f"accuracy {result.accuracy:.4f}\n"
        )
        sys.stdout.flush()

    header = [
        f"# Training speed, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`python benchmarks/train_speed.py --epochs {args.epochs} "
        f"--workers {args.workers} --device {args.device}` on {platform.machine()}, "
        f"{multiprocessing.cpu_count()} CPUs, torch {torch.__version__}; "
        f"s/epoch is the median over {args.epochs} epoch(s), accuracy after them.",
        "",
    ]
    text = "\n".join(header + _table(results)) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    sys.stdout.write("\n" + text + f"\n(written to {args.out})\n")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    raise SystemExit(main())
