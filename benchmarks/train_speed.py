"""Training speed: the assignment's loop against the product's, on the same data.

For each of the six variants, at the default hyperparameters (Adam lr 1e-3;
batch 8 on the 2D point sets, batch 16 on MNIST), trains ``--epochs`` epochs
with:

- ``reference, N workers``: the assignment's loop (benchmarks/reference_loop.py:
  per-sample Dataset + DataLoader), for each worker count in ``--workers``
  (4 is the assignment's; the fastest one measured here is "best reference");
- ``product``: ``pytorch_intro.training.train`` with the eager step
  (``training.compile: off``), the reference the compiled step is tested against;
- ``product, compiled``: the same with the whole step compiled
  (``training.compile: on``), run twice: first on an empty compile cache (its
  compile seconds are a first run's on this machine), then again on the cache
  the first one filled (a second run's); the steady-state time is the second's;
- ``product, N seeds together``: ``--seeds`` copies trained in one step
  (``training.seeds``, the default ``compile: auto``), compared with one seed's;
- ``jax`` / ``keras``: the peers a user might pick instead (benchmarks/peers.py,
  when ``pip install -e '.[bench]'`` has installed them).

Each run is a fresh process (so peak memory is its own), evaluated on the same
validation/test set. Prints and writes (``--out``) s/epoch, samples/s, peak
memory (RSS of the training process; DataLoader workers not included), the
final accuracy, and the speed-up against the 4-worker and the best reference
measured in the same run (this machine is noisy: read ratios, not seconds);
then a second table per variant: ms per step of the best reference, the eager
and the compiled step and the peers, the compile seconds, the accuracy each
reached, and the FLOP bound of a step (its FLOPs at the single-core sgemm
rate measured in the same run).

    python benchmarks/train_speed.py [--epochs 1] [--variants digits.cnn,...]
        [--workers 4,0] [--seeds 5] [--device cpu] [--mnist data/01_raw/mnist]
        [--peers jax,keras] [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import peers
import torch
from reference_loop import (
    DigitsDataset,
    PointsDataset,
    loaders,
    run_training_epoch,
    run_validation_epoch,
)
from torch.utils.flop_counter import FlopCounterMode

from pytorch_intro.data.mnist import read_canonical
from pytorch_intro.data.points import (
    PointSetGeneratorConfig,
    generate_point_sets,
)
from pytorch_intro.models import ModelConfig, build_model
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.training import (
    TrainingConfig,
    resolve_device,
    seeded,
    to_tensors,
)
from pytorch_intro.training import train as train_model

VARIANTS: dict[str, tuple[ModelConfig, str]] = {
    "simple2d.linear": (
        ModelConfig(name="linear", in_features=2, out_features=1),
        "xy",
    ),
    "simple2d.mlp": (
        ModelConfig(name="mlp", in_features=2, out_features=1, hidden_sizes=[16, 16]),
        "xy",
    ),
    "simple2d.polar_linear": (
        ModelConfig(name="linear", in_features=2, out_features=1),
        "polar",
    ),
    "digits.linear": (
        ModelConfig(name="linear", in_features=784, out_features=10),
        "digits",
    ),
    "digits.mlp": (
        ModelConfig(name="mlp", in_features=784, out_features=10, hidden_sizes=[32]),
        "digits",
    ),
    "digits.cnn": (
        ModelConfig(
            name="cnn",
            out_features=10,
            in_channels=1,
            channels=[8, 16, 32],
            kernel_size=3,
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
    steps: int = 0  # per epoch
    compile_seconds: float = 0.0
    note: str = field(default="")

    @property
    def per_epoch(self) -> float:
        return statistics.median(self.seconds)

    @property
    def ms_per_step(self) -> float:
        return 1e3 * self.per_epoch / self.steps if self.steps else float("nan")


def _data(kind: str, mnist: Path) -> tuple[dict, dict]:
    """Raw training and validation data: points (x-y or polar) or uint8 digits."""
    if kind == "digits":
        splits = read_canonical(mnist)
        return splits["train"], splits["test"]
    train, valid = generate_point_sets(PointSetGeneratorConfig(seed=SEED))
    if kind == "polar":
        return tuple(
            d | {"samples": preprocess("polar", d["samples"])} for d in (train, valid)
        )
    return train, valid


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
        steps=len(train_loader),
    )


def _product(
    variant: str,
    epochs: int,
    mnist: Path,
    device: str = "cpu",
    seeds: int = 1,
    compile: str = "off",
    label: str = "",
) -> Result:
    model_config, kind = VARIANTS[variant]
    train, valid = _data(kind, mnist)
    if kind == "digits":
        train = {
            "samples": preprocess("pixels", train["images"]),
            "annotations": train["labels"],
        }
        valid = {
            "samples": preprocess("pixels", valid["images"]),
            "annotations": valid["labels"],
        }
    config = TrainingConfig(
        epochs=epochs,
        batch_size=BATCH[kind],
        lr=LR,
        seed=SEED,
        device=device,
        seeds=seeds,
        compile=compile,
    )
    run = train_model(
        model_config,
        to_tensors(train["samples"], train["annotations"]),
        to_tensors(valid["samples"], valid["annotations"]),
        config,
    )
    history = run.histories[0]
    if not label:
        label = "product" if device == "cpu" else f"product, {resolve_device(device)}"
        label = label if seeds == 1 else f"{label}, {seeds} seeds together"
    return Result(
        variant,
        label,
        [row.train_seconds for row in history],
        len(train["annotations"]),
        _peak_mb(),
        history[-1].val_accuracy,
        steps=-(-len(train["annotations"]) // BATCH[kind]),
        compile_seconds=run.compile_seconds,
        note=run.step,
    )


def _peer(variant: str, peer: str, epochs: int, mnist: Path) -> Result:
    result = peers.run(variant, peer, epochs=epochs, mnist=mnist, cpu=1)
    seconds = result.ms_per_step * result.steps / 1e3
    return Result(
        variant,
        peer,
        [seconds] * epochs,
        result.steps * BATCH[VARIANTS[variant][1]],
        _peak_mb(),
        result.accuracy,
        steps=result.steps,
        compile_seconds=result.compile_seconds,
        note=result.note,
    )


def _run(job: tuple) -> Result:
    logging.disable(logging.INFO)
    # the 4-worker form is the assignment's, measured as it is: no advice needed
    warnings.filterwarnings("ignore", "This DataLoader will create")
    kind, cache, args, kwargs = job
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    run = {"reference": _reference, "product": _product, "peer": _peer}[kind]
    return run(*args, **kwargs)


def flop_bound_ms(variant: str, sgemm_gflops: float) -> float:
    """A training step's FLOPs (forward + backward at the batch size, counted by
    ``torch.utils.flop_counter``, plus Adam's ~12 per parameter) at ``sgemm_gflops``."""
    model_config, kind = VARIANTS[variant]
    with seeded(SEED):
        model = build_model(model_config)
    shape = (2,) if kind != "digits" else (1, 28, 28)
    x = torch.randn(BATCH[kind], *shape)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).sum().backward()
    flops = counter.get_total_flops() + 12 * sum(p.numel() for p in model.parameters())
    return 1e3 * flops / (sgemm_gflops * 1e9)


def sgemm_gflops(size: int = 512, repeats: int = 20) -> float:
    """Single-thread float32 matrix product throughput, best of ``repeats``."""
    torch.set_num_threads(1)
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def _step_table(results: list[Result], bounds: dict[str, float]) -> list[str]:
    """Per variant: ms/step of each path, compile seconds, accuracy, ratios."""
    lines = [
        "| variant | best reference | eager | compiled | compile s, first run | "
        "compile s, second run | jax | keras | FLOP bound | eager / compiled | "
        "best reference / compiled | jax / compiled | accuracy: eager, compiled, jax |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def ms(r: Result | None) -> str:
        return f"{r.ms_per_step:.3f}" if r else "-"

    def seconds(r: Result | None) -> str:
        return f"{r.compile_seconds:.1f}" if r else "-"

    def ratio(a: Result | None, b: Result | None) -> str:
        return f"{a.ms_per_step / b.ms_per_step:.2f}x" if a and b else "-"

    for variant in dict.fromkeys(r.variant for r in results):
        rows = {r.loop: r for r in results if r.variant == variant}
        references = [r for r in rows.values() if r.loop.startswith("reference")]
        best = min(references, key=lambda r: r.per_epoch, default=None)
        eager, compiled = rows.get("product"), rows.get("product, compiled")
        first = rows.get("product, compiled (first run)")
        jax, keras = rows.get("jax"), rows.get("keras")
        accuracy = ", ".join(
            f"{r.accuracy:.4f}" if r else "-" for r in (eager, compiled, jax)
        )
        cells = [
            variant,
            ms(best),
            ms(eager),
            ms(compiled),
            seconds(first),
            seconds(compiled),
            ms(jax),
            ms(keras),
            f"{bounds[variant]:.4f}" if variant in bounds else "-",
            ratio(eager, compiled),
            ratio(best, compiled),
            ratio(jax, compiled),
            accuracy,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


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
        "--peers", default="jax,keras", help="peers to time when installed ('' none)"
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
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    installed = [p for p in wanted if p in peers.available()]
    for missing in sorted(set(wanted) - set(installed)):
        sys.stdout.write(f"{missing}: {peers.INSTALL_HINT}\n")
    cache = tempfile.mkdtemp(prefix="train-speed-inductor-")  # empty: a first run
    jobs = []
    for variant in variants:
        base = (variant, args.epochs, args.mnist, args.device)
        jobs += [
            ("reference", (variant, w, args.epochs, args.mnist), {}) for w in workers
        ]
        jobs.append(("product", base, {"compile": "off"}))
        for label in ("product, compiled (first run)", "product, compiled"):
            jobs.append(("product", base, {"compile": "on", "label": label}))
        if args.seeds > 1:
            jobs.append(("product", base, {"seeds": args.seeds, "compile": "auto"}))
        jobs += [
            ("peer", (variant, peer, args.epochs, args.mnist), {}) for peer in installed
        ]

    results = []
    context = multiprocessing.get_context("spawn")
    for kind, job_args, kwargs in jobs:
        # one fresh process per run: its own peak memory, no shared warm-up
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            result = pool.submit(_run, (kind, cache, job_args, kwargs)).result()
        results.append(result)
        sys.stdout.write(
            f"{result.variant:24s} {result.loop:32s} {result.per_epoch:7.2f} s/epoch  "
            f"{result.ms_per_step:7.3f} ms/step  compile {result.compile_seconds:5.1f} s"
            f"  accuracy {result.accuracy:.4f}\n"
        )
        sys.stdout.flush()
    gflops = sgemm_gflops()
    bounds = {variant: flop_bound_ms(variant, gflops) for variant in variants}

    header = [
        f"# Training speed, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`python benchmarks/train_speed.py --epochs {args.epochs} "
        f"--workers {args.workers} --device {args.device}` on {platform.machine()}, "
        f"{multiprocessing.cpu_count()} CPUs, torch {torch.__version__}; "
        f"s/epoch is the median over {args.epochs} epoch(s), accuracy after them.",
        "",
    ]
    steps = [
        "",
        "ms per training step (s/epoch / steps; the compiled step's without its "
        "compile time). Compile s: the first call of the compiled step on an empty "
        "compile cache (a first run on this machine), then on the cache it filled "
        f"(a second run). FLOP bound: the step's FLOPs at {gflops:.0f} GFLOP/s, the "
        "single-thread sgemm rate measured in this run.",
        "",
    ]
    text = "\n".join(header + _table(results) + steps + _step_table(results, bounds))
    text += "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    sys.stdout.write("\n" + text + f"\n(written to {args.out})\n")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    raise SystemExit(main())
