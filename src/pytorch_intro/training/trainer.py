"""Training on in-memory tensors: one seed or N seeds, one loop.

The data is held as tensors and each epoch slices mini-batches from a seeded
permutation: no per-sample ``Dataset``/``DataLoader``, which is where the
assignment's loop spent most of its time. N seeds train as N copies of the
model, each with its own initialisation and shuffling order, in one step
(:class:`~pytorch_intro.training.step.TrainStep`, or the compiled
:class:`~pytorch_intro.training.compiled.CompiledStep`); N = 1 is the same code.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from pytorch_intro.models.registry import ModelConfig, build_model
from pytorch_intro.training.compiled import (
    CompiledStep,
    should_compile,
    use_compile_cache,
)
from pytorch_intro.training.config import TrainingConfig
from pytorch_intro.training.evaluation import evaluate
from pytorch_intro.training.runtime import (
    flush_denormals,
    intra_op_threads,
    resolve_device,
    seeded,
)
from pytorch_intro.training.step import TrainStep

logger = logging.getLogger(__name__)

#: One-cycle schedule: share of the steps spent warming up, and the ratios of
#: the peak learning rate to the first and to the last one.
WARMUP, START_DIVISOR, END_DIVISOR = 0.25, 25.0, 1e4

#: Told (epoch, the first seed's validation accuracy) after every epoch; True
#: stops the training there (a sweep's pruner). Set with :func:`stop_early`.
_EPOCH_END: ContextVar[Callable[[int, float], bool] | None] = ContextVar(
    "epoch_end", default=None
)


@contextlib.contextmanager
def stop_early(decide: Callable[[int, float], bool]) -> Iterator[None]:
    """Inside the block, training asks ``decide(epoch, val_accuracy)`` after
    every epoch and stops after the first epoch it says True for."""
    token = _EPOCH_END.set(decide)
    try:
        yield
    finally:
        _EPOCH_END.reset(token)


@dataclass
class EpochResult:
    """Metrics of one epoch; ``val_accuracy`` is a fraction in [0, 1]."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    train_seconds: float


@dataclass
class TrainingRun:
    """What training returns: each seed's trained model and per-epoch history.

    ``train_seconds`` is the time of the joint epoch (all seeds together),
    without the compile time; ``step`` says how the step ran (``compiled``,
    ``eager``, or ``eager`` with the reason the compiled step could not be used)
    and ``compile_seconds`` how long its first call took (0 when eager).
    """

    seeds: list[int]
    models: list[nn.Module]
    histories: list[list[EpochResult]]
    step: str = "eager"
    compile_seconds: float = 0.0

    @property
    def model(self) -> nn.Module:
        """The first seed's model: the variant's model."""
        return self.models[0]

    def history(self) -> list[dict[str, float]]:
        """The first seed's history, one dict per epoch; with several seeds also
        the mean and (sample) standard deviation of their validation accuracy."""
        rows = [asdict(result) for result in self.histories[0]]
        if len(self.histories) > 1:
            for epoch, row in enumerate(rows):
                accuracy = [history[epoch].val_accuracy for history in self.histories]
                row["val_accuracy_mean"] = statistics.fmean(accuracy)
                row["val_accuracy_std"] = statistics.stdev(accuracy)
        return rows


def train(
    model: ModelConfig,
    train_data: tuple[Tensor, Tensor],
    valid_data: tuple[Tensor, Tensor],
    config: TrainingConfig,
    name: str | None = None,
) -> TrainingRun:
    """Seed, build and train ``config.seeds`` copies of ``model``.

    Copy k is initialised and shuffled with seed ``config.seed + k``, exactly as
    it would be trained alone.
    """
    models = []
    for seed in config.seed_list:
        with seeded(seed):
            models.append(build_model(model))
    return fit(models, train_data, valid_data, config, name=name or model.name)


def fit(
    models: Sequence[nn.Module],
    train_data: tuple[Tensor, Tensor],
    valid_data: tuple[Tensor, Tensor],
    config: TrainingConfig,
    seeds: Sequence[int] | None = None,
    name: str = "model",
) -> TrainingRun:
    """Train freshly initialised ``models`` (one per seed) with Adam, evaluating
    each on ``valid_data`` after every epoch.

    Args:
        models: the copies, one architecture; the originals are not changed.
        train_data: training inputs and integer labels.
        valid_data: validation inputs and integer labels.
        config: validated hyperparameters.
        seeds: the shuffling seed of each copy (default ``config.seed_list``).
        name: shown in the log lines and the progress bar.
    """
    seeds = list(config.seed_list if seeds is None else seeds)
    if len(seeds) != len(models):
        raise ValueError(f"{len(models)} models for {len(seeds)} seeds")
    if len({type(model) for model in models}) != 1:
        raise TypeError(f"copies of one architecture only, got {models}")
    device = resolve_device(config.device)
    on_cpu = device.type == "cpu"
    compiled = should_compile(config.compile, models[0], device)
    # channels_last for convolutions on the CPU: oneDNN's fast layout there
    convolutional = any(isinstance(m, nn.Conv2d) for m in models[0].modules())
    layout = (
        torch.channels_last if convolutional and on_cpu else torch.contiguous_format
    )
    use_compile_cache(config.compile_cache)  # before torch reads it
    with (
        intra_op_threads(config.num_threads if on_cpu else 0),
        flush_denormals() if on_cpu else contextlib.nullcontext(),
    ):
        copies = [
            copy.deepcopy(m).to(device, memory_format=layout).train() for m in models
        ]
        optimizer = torch.optim.Adam(
            [p for model in copies for p in model.parameters()],
            lr=config.lr,
            fused=device.type in ("cpu", "cuda"),
        )
        step = (CompiledStep if compiled else TrainStep)(copies, optimizer)
        inputs, labels = (t.to(device) for t in train_data)
        if inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=layout)
        steps = -(-len(inputs) // config.batch_size)
        schedule = learning_rate_schedule(optimizer, config, steps)
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        # each copy's shuffled training set, gathered into buffers allocated once
        xs = [torch.empty_like(inputs) for _ in seeds]
        ys = [torch.empty_like(labels) for _ in seeds]
        histories: list[list[EpochResult]] = [[] for _ in seeds]
        with tqdm(
            total=config.epochs * steps,
            desc=name,
            disable=not sys.stderr.isatty(),
            leave=False,
        ) as progress:
            for epoch in range(1, config.epochs + 1):
                started, compiling = time.perf_counter(), step.compile_seconds
                for generator, x, y in zip(generators, xs, ys, strict=True):
                    order = torch.randperm(len(inputs), generator=generator).to(device)
                    torch.index_select(inputs, 0, order, out=x)
                    torch.index_select(labels, 0, order, out=y)
                losses = train_one_epoch(
                    step, schedule, xs, ys, config.batch_size, progress
                )
                # the compile time is reported apart (compile_seconds)
                seconds = (
                    time.perf_counter() - started - (step.compile_seconds - compiling)
                )
                for history, model, loss in zip(histories, copies, losses, strict=True):
                    result = evaluate(model, *valid_data)
                    history.append(
                        EpochResult(epoch, loss, result.loss, result.accuracy, seconds)
                    )
                _log_epoch(name, epoch, config.epochs, histories, seconds)
                decide = _EPOCH_END.get()
                if decide is not None and decide(epoch, histories[0][-1].val_accuracy):
                    logger.info("%s: stopped after epoch %d (pruned)", name, epoch)
                    break
    trained = [
        copy.deepcopy(m).to("cpu", memory_format=torch.contiguous_format).eval()
        for m in copies
    ]
    return TrainingRun(seeds, trained, histories, step.path, step.compile_seconds)


def train_one_epoch(
    step: TrainStep,
    schedule: torch.optim.lr_scheduler.LRScheduler | None,
    xs: Sequence[Tensor],
    ys: Sequence[Tensor],
    batch_size: int,
    progress: tqdm | None = None,
) -> list[float]:
    """One pass of copy k over its shuffled set ``xs[k]``, ``ys[k]``, batch by
    batch; returns each copy's mean training loss."""
    total, losses = len(xs[0]), []
    with warnings.catch_warnings():
        # The compiled step updates Adam's state without optimizer.step().
        warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
        for start in range(0, total, batch_size):
            batch = slice(start, start + batch_size)
            losses.append(
                step([x[batch] for x in xs], [y[batch] for y in ys])
                * min(batch_size, total - start)
            )
            if schedule is not None:
                schedule.step()
            if progress is not None:
                progress.update(1)
    # kept on the device until here: no host sync per step
    return (torch.stack(losses).sum(0) / total).tolist()


def learning_rate_schedule(
    optimizer: torch.optim.Adam, config: TrainingConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``torch.optim.lr_scheduler.OneCycleLR`` for ``schedule: onecycle``.

    Cosine warm-up from ``lr / 25`` to ``lr`` over the first quarter of the
    steps (the peak at step ``round(steps / 4)``), then cosine annealing to
    ``lr / 1e4``; momentum is left alone. Runs of fewer than four steps keep
    ``lr`` constant.
    """
    total = config.epochs * steps_per_epoch
    if config.schedule != "onecycle" or total < 4:
        return None
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.lr,
        total_steps=total,
        pct_start=(round(WARMUP * total) + 1) / total,
        anneal_strategy="cos",
        cycle_momentum=False,
        div_factor=START_DIVISOR,
        final_div_factor=END_DIVISOR / START_DIVISOR,
    )


def _log_epoch(
    name: str,
    epoch: int,
    epochs: int,
    histories: list[list[EpochResult]],
    seconds: float,
) -> None:
    first = histories[0][-1]
    spread = ""
    if len(histories) > 1:
        accuracy = " ".join(f"{h[-1].val_accuracy:.4f}" for h in histories)
        spread = f" ({len(histories)} seeds: val_accuracy {accuracy})"
    logger.info(
        "%s epoch %02d/%02d: train_loss=%.4f val_loss=%.4f val_accuracy=%.4f (%.2fs)%s",
        name,
        epoch,
        epochs,
        first.train_loss,
        first.val_loss,
        first.val_accuracy,
        seconds,
        spread,
    )
