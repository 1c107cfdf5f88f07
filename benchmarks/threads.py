"""How many intra-op threads to train the 2D models with.

Times the product's training loop (`pytorch_intro.training.train`) at the
assignment's settings (Adam; batch 8 on the generated point sets, batch 16 on
random MNIST-shaped data), for each
thread count, and prints s/epoch with the ratio against torch's default thread
count measured in the same run (this machine is noisy: compare ratios).

    python benchmarks/threads.py [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics

import torch

from pytorch_intro.data.points import PointSetGeneratorConfig, generate_point_sets
from pytorch_intro.models import ModelConfig
from pytorch_intro.training import TrainingConfig, to_tensors
from pytorch_intro.training import train as train_model

MODELS = {
    "linear": ModelConfig(name="linear", in_features=2, out_features=1),
    "mlp": ModelConfig(
        name="mlp", in_features=2, out_features=1, hidden_sizes=[16, 16]
    ),
    # MNIST-sized MLP on random data (10,000 samples, batch 16): larger matmuls
    "mlp-784": ModelConfig(
        name="mlp", in_features=784, out_features=10, hidden_sizes=[32]
    ),
}
BATCH = {"linear": 8, "mlp": 8, "mlp-784": 16}


def seconds_per_epoch(
    model: ModelConfig, batch_size: int, threads: int, epochs: int, data
) -> float:
    train, valid = data
    config = TrainingConfig(
        epochs=epochs, batch_size=batch_size, lr=1e-3, device="cpu", num_threads=threads
    )
    history = train_model(model, train, valid, config).histories[0]
    return statistics.median(r.train_seconds for r in history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    train, valid = generate_point_sets(PointSetGeneratorConfig(seed=0))
    points = (
        to_tensors(train["samples"], train["annotations"]),
        to_tensors(valid["samples"], valid["annotations"]),
    )
    generator = torch.Generator().manual_seed(0)
    digits = tuple(
        (
            torch.rand(n, 784, generator=generator) * 2 - 1,
            torch.randint(0, 10, (n,), generator=generator),
        )
        for n in (10_000, 2_000)
    )
    default = torch.get_num_threads()
    counts = sorted({default, 1, 2})
    print(f"torch {torch.__version__}, default intra-op threads: {default}")
    print(f"{'model':8} {'threads':>7} {'s/epoch':>8} {'vs default':>10}")
    for name, model in MODELS.items():
        data = digits if model.in_features == 784 else points
        timings = {
            threads: min(
                seconds_per_epoch(model, BATCH[name], threads, args.epochs, data)
                for _ in range(args.repeats)
            )
            for threads in counts
        }
        for threads, seconds in timings.items():
            ratio = timings[default] / seconds
            print(f"{name:8} {threads:>7} {seconds:>8.3f} {ratio:>9.2f}x")


if __name__ == "__main__":
    main()
