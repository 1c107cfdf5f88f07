"""N seeds in one step: the product's copies against torch.func.vmap.

The product trains N seeds as N modules in one step (``TrainStep``: one
backward pass through the sum of their losses, one fused Adam step). The
textbook alternative stacks the copies' parameters
(``torch.func.stack_module_state``) and maps ``functional_call`` over them with
``vmap``, gradients by ``torch.func.grad_and_value``. This times one eager
training step of each (batch 16, one thread, interleaved repeats, median) for
N = 1 and N = 5 and prints the ratio.

    python benchmarks/seed_copies.py [--steps 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.func import functional_call, grad_and_value, stack_module_state, vmap
from torch.optim.adam import adam

from pytorch_intro.models import ModelConfig, build_model
from pytorch_intro.training import TrainStep, classification_loss, seeded

MODELS = {
    "simple2d.mlp": ModelConfig(
        name="mlp", in_features=2, out_features=1, hidden_sizes=[16, 16]
    ),
    "digits.mlp": ModelConfig(
        name="mlp", in_features=784, out_features=10, hidden_sizes=[32]
    ),
    "digits.cnn": ModelConfig(
        name="cnn", out_features=10, in_channels=1, channels=[8, 16, 32], kernel_size=3
    ),
}
BATCH = 16


def _models(config: ModelConfig, count: int) -> list[torch.nn.Module]:
    models = []
    for seed in range(count):
        with seeded(seed):
            models.append(build_model(config))
    return models


def _batches(config: ModelConfig, count: int, steps: int):
    shape = (2,) if config.in_features == 2 else (1, 28, 28)
    classes = 2 if config.in_features == 2 else 10
    x = torch.randn(count, steps * BATCH, *shape)
    y = torch.randint(0, classes, (count, steps * BATCH))
    return x, y


def product_step(config: ModelConfig, count: int):
    models = _models(config, count)
    params = [p for model in models for p in model.parameters()]
    return TrainStep(models, torch.optim.Adam(params, lr=1e-3, fused=True))


def vmap_step(config: ModelConfig, count: int):
    models = _models(config, count)
    stacked, _ = stack_module_state(models)
    params = {k: v.detach() for k, v in stacked.items()}
    architecture = build_model(config).to("meta")

    def loss(p, x, y):
        return classification_loss(functional_call(architecture, p, (x,)), y)

    gradients = vmap(grad_and_value(loss))
    exp_avgs, exp_avg_sqs = (
        [torch.zeros_like(p) for p in params.values()] for _ in range(2)
    )
    steps = [torch.zeros(()) for _ in params]

    def step(x, y):
        grads, losses = gradients(params, x, y)
        with torch.no_grad():
            adam(
                list(params.values()),
                [grads[k] for k in params],
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                fused=True,
                amsgrad=False,
                beta1=0.9,
                beta2=0.999,
                lr=1e-3,
                weight_decay=0.0,
                eps=1e-8,
                maximize=False,
            )
        return losses

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| model | seeds | product ms/step | vmap ms/step | vmap / product |")
    print("|---|---:|---:|---:|---:|")
    for name, config in MODELS.items():
        for count in (1, 5):
            x, y = _batches(config, count, args.steps)
            steps = {
                "product": product_step(config, count),
                "vmap": vmap_step(config, count),
            }
            times = {key: [] for key in steps}
            for _ in range(args.repeats):
                for key, step in steps.items():
                    step(x[:, :BATCH], y[:, :BATCH])  # warm
                    started = time.perf_counter()
                    for i in range(args.steps):
                        batch = slice(i * BATCH, (i + 1) * BATCH)
                        step(x[:, batch], y[:, batch])
                    times[key].append((time.perf_counter() - started) / args.steps)
            product, vmapped = (1e3 * statistics.median(times[k]) for k in steps)
            print(
                f"| {name} | {count} | {product:.3f} | {vmapped:.3f} | "
                f"{vmapped / product:.2f}x |"
            )


if __name__ == "__main__":
    main()
