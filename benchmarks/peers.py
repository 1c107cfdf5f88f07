"""Peers: the project's training step in JAX and in Keras 3, on the same data.

For each of the six variants (the project's architectures and settings: Adam
lr 1e-3, eps 1e-8; batch 8 and binary cross-entropy with logits on the 2D point
sets, batch 16 and softmax cross-entropy on MNIST), trains ``--epochs`` epochs
with

- ``jax``: ``jax.jit`` of the whole step (forward, gradient, ``optax.adam``
  update), called once per batch from a Python loop;
- ``keras``: Keras 3 on its JAX backend, ``model.fit(..., batch_size=B,
  epochs=1, shuffle=True, verbose=0)`` once per epoch, no callbacks;

and prints, beside the PyTorch figures of benchmarks/train_speed.py, the
steady-state ms per step, the compile seconds and the accuracy on the
validation/test set after the last epoch.

How it is timed (steady state and compilation are kept apart):

- compile s: the first call, which traces and compiles: for ``jax`` one step whose
  result is dropped; for ``keras`` a ``fit`` over a 2-batch
  slice, after which the weights and the Adam state are put back to their
  initial values.
- ms/step: every epoch's wall time (the seeded shuffle, every step, the final
  synchronisation) divided by its steps, averaged over the epochs: the same
  measure as the project's s/epoch. For ``jax`` the median over chunks of 100
  steps (synchronised at each chunk's end) is reported too.
- After compiling, every thread of the process is pinned to one CPU
  (``--cpu``, default 1; -1: not pinned): XLA keeps ~1.6 cores busy whatever
  XLA_FLAGS say, and the project's PyTorch runs use one thread.

Each measurement runs in a fresh process. Initialisation follows PyTorch's
defaults (weights and biases uniform in +-1/sqrt(fan_in)) with the peer's own
random numbers, so accuracies are comparable in distribution, not bit for bit.
Epoch e shuffles with ``numpy.random.default_rng(seed)`` (JAX) or Keras's
seeded shuffle (``keras.utils.set_random_seed(seed)``).

JAX and Keras are optional (``pip install -e '.[bench]'``); nothing in
``src/`` imports them. No network access.

    python benchmarks/peers.py [--variants digits.cnn,...] [--epochs 1]
        [--peers jax,keras] [--mnist data/01_raw/mnist] [--cpu 1] [--steps N]

``--steps N`` trains on a seeded subset of N batches per epoch (smoke runs).
Other scripts can call :func:`available` and :func:`run` (one measurement per
process, since pinning and compilation caches are per process).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = PROJECT_ROOT / "data" / "01_raw" / "mnist"
PEERS = ("jax", "keras")
VARIANTS = (
    "simple2d.linear",
    "simple2d.mlp",
    "simple2d.polar_linear",
    "digits.linear",
    "digits.mlp",
    "digits.cnn",
)
SEED = 0  # conf/base/globals.yml
LR = 1e-3
ADAM_EPS = 1e-8  # torch.optim.Adam's (Keras defaults to 1e-7)
CHUNK = 100  # steps per timed chunk (jax)
WARMUP_BATCHES = 2  # keras: the compiling fit's slice
INSTALL_HINT = "not installed: pip install -e '.[bench]'"

# The layer widths of each variant (conf/base/parameters_*.yml).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "simple2d.linear": {"kind": "dense", "sizes": [2, 1]},
    "simple2d.mlp": {"kind": "dense", "sizes": [2, 16, 16, 1]},
    "simple2d.polar_linear": {"kind": "dense", "sizes": [2, 1]},
    "digits.linear": {"kind": "dense", "sizes": [784, 10]},
    "digits.mlp": {"kind": "dense", "sizes": [784, 32, 10]},
    "digits.cnn": {"kind": "cnn", "channels": [1, 8, 16, 32], "kernel": 3, "out": 10},
}
BATCH_SIZE = {"simple2d": 8, "digits": 16}


@dataclass
class PeerResult:
    """One measurement: a variant trained by a peer."""

    variant: str
    peer: str
    ms_per_step: float  # epoch wall time / steps, mean over epochs
    compile_seconds: float
    accuracy: float  # on the validation/test set after the last epoch
    note: str = ""
    ms_per_step_median: float | None = None  # median of CHUNK-step chunks (jax)
    steps: int = 0  # steps per epoch
    epochs: int = 1


@dataclass
class Data:
    """A variant's training and evaluation arrays, inputs float32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    batch_size: int
    binary: bool  # one logit (binary cross-entropy) or ten (softmax)


def available() -> list[str]:
    """The peers whose packages are installed."""

    def has(*modules: str) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in modules)

    peers = []
    if has("jax", "optax"):
        peers.append("jax")
    if has("jax", "keras"):
        peers.append("keras")
    return peers


def load_data(variant: str, mnist: Path) -> Data:
    """The variant's data as the project trains on it (NHWC images for the CNN)."""
    task, name = variant.split(".")
    if task == "simple2d":
        from pytorch_intro.data.points import (  # noqa: PLC0415
            PointSetGeneratorConfig,
            generate_point_sets,
        )
        from pytorch_intro.models.preprocessing import preprocess  # noqa: PLC0415

        train, valid = generate_point_sets(PointSetGeneratorConfig(seed=SEED))
        if name == "polar_linear":
            train, valid = (
                d | {"samples": preprocess("polar", d["samples"])}
                for d in (train, valid)
            )
        return Data(
            train["samples"].astype(np.float32),
            train["annotations"].astype(np.float32)[:, None],
            valid["samples"].astype(np.float32),
            valid["annotations"].astype(np.float32)[:, None],
            BATCH_SIZE[task],
            binary=True,
        )
    from pytorch_intro.data.mnist import read_canonical  # noqa: PLC0415
    from pytorch_intro.models.preprocessing import preprocess  # noqa: PLC0415

    splits = read_canonical(mnist)

    def images(split: str) -> np.ndarray:
        x = preprocess("pixels", splits[split]["images"])  # (N, 1, 28, 28)
        if ARCHITECTURES[variant]["kind"] == "cnn":
            return np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # NHWC
        return x.reshape(len(x), -1)

    return Data(
        images("train"),
        splits["train"]["labels"].astype(np.int32),
        images("test"),
        splits["test"]["labels"].astype(np.int32),
        BATCH_SIZE[task],
        binary=False,
    )


def subset(data: Data, steps: int | None) -> Data:
    """A seeded subset of ``steps`` batches of the training set (None: all)."""
    if steps is None or steps * data.batch_size >= len(data.x_train):
        return data
    index = np.sort(
        np.random.default_rng(SEED).permutation(len(data.x_train))[
            : steps * data.batch_size
        ]
    )
    return Data(
        data.x_train[index],
        data.y_train[index],
        data.x_valid,
        data.y_valid,
        data.batch_size,
        data.binary,
    )


def pin_process(cpu: int) -> None:
    """Pin every thread of this process (and those it starts later) to ``cpu``.

    ``os.sched_setaffinity(0, ...)`` only moves the calling thread on Linux, so
    each thread already started (XLA's pools) is moved by its id.
    """
    if cpu not in os.sched_getaffinity(0):
        raise ValueError(
            f"--cpu {cpu}: not one of this process's CPUs "
            f"{sorted(os.sched_getaffinity(0))}"
        )
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(ProcessLookupError, PermissionError):  # exited
            os.sched_setaffinity(int(task.name), {cpu})
    os.sched_setaffinity(0, {cpu})


def _pytorch_bound(fan_in: int) -> float:
    """torch.nn.Linear/Conv2d's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return 1.0 / math.sqrt(fan_in)


# --- JAX ----------------------------------------------------------------------


def _jax_model(variant: str) -> tuple[list, Callable]:
    """The variant's parameters (PyTorch's default init) and forward function."""
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415
    from jax import lax  # noqa: PLC0415

    arch = ARCHITECTURES[variant]
    keys = iter(jax.random.split(jax.random.key(SEED), 16))

    def uniform(shape: tuple[int, ...], fan_in: int) -> jax.Array:
        bound = _pytorch_bound(fan_in)
        return jax.random.uniform(next(keys), shape, jnp.float32, -bound, bound)

    if arch["kind"] == "dense":
        sizes = arch["sizes"]
        params = [
            (uniform((a, b), a), uniform((b,), a))
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]

        def forward(params: list, x: jax.Array) -> jax.Array:
            for w, b in params[:-1]:
                x = jax.nn.relu(x @ w + b)
            w, b = params[-1]
            return x @ w + b

    else:
        channels, k = arch["channels"], arch["kernel"]
        convs = [
            (uniform((k, k, a, b), a * k * k), uniform((b,), a * k * k))
            for a, b in zip(channels[:-1], channels[1:], strict=True)
        ]
        head = (
            uniform((channels[-1], arch["out"]), channels[-1]),
            uniform((arch["out"],), channels[-1]),
        )
        params = [*convs, head]

        def forward(params: list, x: jax.Array) -> jax.Array:
            *convs, (w_out, b_out) = params
            for i, (w, b) in enumerate(convs):
                x = lax.conv_general_dilated(
                    x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
                )
                x = jax.nn.relu(x + b)
                if i < len(convs) - 1:  # MaxPool2d(2, 2)
                    x = lax.reduce_window(
                        x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
                    )
                else:  # AdaptiveMaxPool2d(1)
                    x = x.max(axis=(1, 2))
            return x @ w_out + b_out

    return params, forward


def _run_jax(variant: str, data: Data, epochs: int, cpu: int | None) -> PeerResult:
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415
    import optax  # noqa: PLC0415

    params, forward = _jax_model(variant)

    def loss_fn(params: list, x: jax.Array, y: jax.Array) -> jax.Array:
        logits = forward(params, x)
        if data.binary:
            return optax.sigmoid_binary_cross_entropy(logits, y).mean()
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    optimizer = optax.adam(LR, eps=ADAM_EPS)

    @jax.jit
    def step(params: list, opt_state: Any, x: jax.Array, y: jax.Array) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def predict(params: list, x: jax.Array) -> jax.Array:
        logits = forward(params, x)
        return (logits[:, 0] > 0).astype(jnp.int32) if data.binary else logits.argmax(1)

    opt_state = optimizer.init(params)
    batch = data.batch_size
    started = time.perf_counter()
    # not donated: the warm-up step's result is dropped, params stay initial
    jax.block_until_ready(
        step(params, opt_state, data.x_train[:batch], data.y_train[:batch])
    )
    compile_seconds = time.perf_counter() - started
    jax.block_until_ready(predict(params, data.x_valid))
    if cpu is not None:
        pin_process(cpu)

    rng = np.random.default_rng(SEED)
    steps = len(data.x_train) // batch
    epoch_ms, chunk_ms = [], []
    for _ in range(epochs):
        started = time.perf_counter()
        order = rng.permutation(len(data.x_train))
        xs, ys = data.x_train[order], data.y_train[order]
        chunk_start = time.perf_counter()
        for i in range(steps):
            params, opt_state, loss = step(
                params,
                opt_state,
                xs[i * batch : (i + 1) * batch],
                ys[i * batch : (i + 1) * batch],
            )
            if (i + 1) % CHUNK == 0:
                loss.block_until_ready()
                now = time.perf_counter()
                chunk_ms.append((now - chunk_start) * 1e3 / CHUNK)
                chunk_start = now
        jax.block_until_ready((params, opt_state))
        epoch_ms.append((time.perf_counter() - started) * 1e3 / steps)

    predictions = np.asarray(predict(params, data.x_valid))
    labels = data.y_valid[:, 0] if data.binary else data.y_valid
    return PeerResult(
        variant,
        "jax",
        ms_per_step=statistics.fmean(epoch_ms),
        compile_seconds=compile_seconds,
        accuracy=float((predictions == labels).mean()),
        note=f"jax {jax.__version__}, optax {optax.__version__}",
        ms_per_step_median=statistics.median(chunk_ms) if chunk_ms else None,
        steps=steps,
        epochs=epochs,
    )


# --- Keras 3 ------------------------------------------------------------------


def _run_keras(variant: str, data: Data, epochs: int, cpu: int | None) -> PeerResult:
    if os.environ.get("KERAS_BACKEND", "jax") != "jax" or (
        "keras" in sys.modules and sys.modules["keras"].backend.backend() != "jax"
    ):
        raise RuntimeError("the keras peer needs KERAS_BACKEND=jax")
    os.environ["KERAS_BACKEND"] = "jax"
    import keras  # noqa: PLC0415

    keras.utils.set_random_seed(SEED)
    arch = ARCHITECTURES[variant]

    def uniform(fan_in: int) -> keras.initializers.Initializer:
        bound = _pytorch_bound(fan_in)
        return keras.initializers.RandomUniform(-bound, bound)

    if arch["kind"] == "dense":
        sizes = arch["sizes"]
        layers = [
            keras.layers.Dense(
                b,
                activation="relu" if i < len(sizes) - 2 else None,
                kernel_initializer=uniform(a),
                bias_initializer=uniform(a),
            )
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        ]
        inputs = keras.Input((sizes[0],))
    else:
        channels, k = arch["channels"], arch["kernel"]
        layers = []
        for i, (a, b) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            layers.append(
                keras.layers.Conv2D(
                    b,
                    k,
                    activation="relu",
                    kernel_initializer=uniform(a * k * k),
                    bias_initializer=uniform(a * k * k),
                )
            )
            last = i == len(channels) - 2
            layers.append(
                keras.layers.GlobalMaxPooling2D()
                if last
                else keras.layers.MaxPooling2D(2)
            )
        layers.append(
            keras.layers.Dense(
                arch["out"],
                kernel_initializer=uniform(channels[-1]),
                bias_initializer=uniform(channels[-1]),
            )
        )
        inputs = keras.Input(data.x_train.shape[1:])
    model = keras.Sequential([inputs, *layers])
    optimizer = keras.optimizers.Adam(LR, epsilon=ADAM_EPS)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(from_logits=True)
        if data.binary
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    batch = data.batch_size
    fit = {"batch_size": batch, "epochs": 1, "shuffle": True, "verbose": 0}

    initial = model.get_weights()
    warm = WARMUP_BATCHES * batch
    started = time.perf_counter()
    model.fit(data.x_train[:warm], data.y_train[:warm], **fit)
    compile_seconds = time.perf_counter() - started
    model.set_weights(initial)  # undo the warm-up steps, Adam state included
    for variable in optimizer.variables:
        if variable.name != "learning_rate":
            variable.assign(np.zeros(variable.shape, variable.dtype))
    model.predict(data.x_valid[:batch], batch_size=batch, verbose=0)
    if cpu is not None:
        pin_process(cpu)

    steps = len(data.x_train) // batch
    epoch_ms = []
    for _ in range(epochs):
        started = time.perf_counter()
        model.fit(data.x_train, data.y_train, **fit)
        epoch_ms.append((time.perf_counter() - started) * 1e3 / steps)

    logits = model.predict(data.x_valid, batch_size=500, verbose=0)
    if data.binary:
        predictions, labels = (logits[:, 0] > 0).astype(np.int32), data.y_valid[:, 0]
    else:
        predictions, labels = logits.argmax(1), data.y_valid
    import jax  # noqa: PLC0415

    return PeerResult(
        variant,
        "keras",
        ms_per_step=statistics.fmean(epoch_ms),
        compile_seconds=compile_seconds,
        accuracy=float((predictions == labels).mean()),
        note=f"keras {keras.version()} (jax {jax.__version__} backend)",
        steps=steps,
        epochs=epochs,
    )


def run(
    variant: str,
    peer: str,
    epochs: int = 1,
    mnist: Path = DEFAULT_MNIST,
    cpu: int | None = 1,
    steps: int | None = None,
) -> PeerResult:
    """Train ``variant`` for ``epochs`` epochs with ``peer`` and time it.

    Args:
        variant: one of :data:`VARIANTS`, e.g. ``"digits.cnn"``.
        peer: ``"jax"`` or ``"keras"`` (see :func:`available`).
        epochs: epochs timed after compilation.
        mnist: the folder with the canonical MNIST files (digits variants).
        cpu: the CPU the process is pinned to after compiling (None: not pinned).
            Pinning lasts for the rest of the process: call it in a fresh one.
        steps: train on a seeded subset of this many batches (None: the whole
            training set); for smoke runs and tests.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; one of {', '.join(PEERS)}")
    if peer not in available():
        raise ModuleNotFoundError(f"{peer}: {INSTALL_HINT}")
    if epochs < 1 or (steps is not None and steps < 1):
        raise ValueError("epochs and steps must be at least 1")
    data = subset(load_data(variant, Path(mnist)), steps)
    runner = _run_jax if peer == "jax" else _run_keras
    result = runner(variant, data, epochs, cpu)
    pinned = f"pinned to CPU {cpu} after compiling" if cpu is not None else "not pinned"
    result.note = f"{result.note}; {pinned}"
    return result


def _run_in_fresh_process(kwargs: dict[str, Any]) -> dict[str, Any]:
    return asdict(run(**kwargs))


def table(results: list[PeerResult]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| variant | peer | ms/step (epoch / steps) | ms/step (median of "
        f"{CHUNK}-step chunks) | compile s | accuracy | steps/epoch |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        median = "-" if r.ms_per_step_median is None else f"{r.ms_per_step_median:.3f}"
        lines.append(
            f"| {r.variant} | {r.peer} | {r.ms_per_step:.3f} | {median} | "
            f"{r.compile_seconds:.2f} | {r.accuracy:.4f} | {r.steps} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument(
        "--cpu", type=int, default=1, help="pin to this CPU after compiling; -1: no"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="batches per epoch (smoke runs)"
    )
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    peers = [p for p in args.peers.split(",") if p]
    unknown = [v for v in variants if v not in VARIANTS] + [
        p for p in peers if p not in PEERS
    ]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    installed = available()
    for peer in peers:
        if peer not in installed:
            print(f"{peer}: {INSTALL_HINT}")
    peers = [p for p in peers if p in installed]
    if not peers:
        return 0
    cpu = None if args.cpu < 0 else args.cpu

    results = []
    context = multiprocessing.get_context("spawn")
    for variant in variants:
        for peer in peers:
            kwargs = {
                "variant": variant,
                "peer": peer,
                "epochs": args.epochs,
                "mnist": args.mnist,
                "cpu": cpu,
                "steps": args.steps,
            }
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                result = PeerResult(
                    **pool.submit(_run_in_fresh_process, kwargs).result()
                )
            results.append(result)
            print(
                f"{variant} {peer}: {result.ms_per_step:.3f} ms/step, "
                f"compile {result.compile_seconds:.2f} s, "
                f"accuracy {result.accuracy:.4f}",
                flush=True,
            )

    notes = sorted({r.note for r in results})
    print()
    print(table(results))
    print()
    print(
        f"{args.epochs} epoch(s) of {'all full batches' if args.steps is None else f'{args.steps} batches (a seeded subset)'}"
        " per measurement, each in a fresh process. ms/step: each epoch's wall time "
        "(shuffle, steps, final sync) / steps, mean over epochs; compile s: the "
        "first (compiling) call, timed apart. Accuracy on the validation/test set."
    )
    if cpu is not None:
        print(
            f"Pinned to CPU {cpu} after compiling (every thread): XLA otherwise "
            "keeps ~1.6 cores busy whatever XLA_FLAGS say; the PyTorch runs use one "
            "thread."
        )
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
