"""Training on in-memory tensors: one seed or N seeds, one code path.

The data is held as tensors and each epoch slices mini-batches from a seeded
permutation: no per-sample ``Dataset``/``DataLoader``, which is where the
assignment's loop spent most of its time. N seeds train as N copies of the
model (``ModelCopies``), each with its own initialisation, shuffling order and
Adam state, in one step (``TrainStep``); N = 1 is the same code.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from pytorch_intro.models.registry import ModelConfig, build_model
from pytorch_intro.training.compiled import (
    CompiledStep,
    CompileError,
    should_compile,
    use_compile_cache,
)
from pytorch_intro.training.config import TrainingConfig
from pytorch_intro.training.copies import ModelCopies
from pytorch_intro.training.evaluation import EVAL_BATCH_SIZE
from pytorch_intro.training.objectives import Objective, objective_for
from pytorch_intro.training.runtime import (
    flush_denormals,
    intra_op_threads,
    resolve_device,
    seeded,
)
from pytorch_intro.training.step import AdamState, TrainStep

logger = logging.getLogger(__name__)

#: One-cycle schedule: share of the steps spent warming up, and the ratios of
#: the peak learning rate to the first and to the last one.
WARMUP, START_DIVISOR, END_DIVISOR = 0.25, 25.0, 1e4


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
    device = resolve_device(config.device)
    on_cpu = device.type == "cpu"
    # before torch reads it (creating the optimizer already does)
    use_compile_cache(config.compile_cache)
    with (
        intra_op_threads(config.num_threads if on_cpu else 0),
        flush_denormals() if on_cpu else contextlib.nullcontext(),
    ):
        layout = _memory_format(models[0], device)
        copies = ModelCopies(models).to(device, layout)
        inputs, labels = (t.to(device) for t in train_data)
        if inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=layout)
        valid = tuple(t.to(device) for t in valid_data)
        objective = objective_for(_num_outputs(copies, inputs))
        optimizer = torch.optim.Adam(
            copies.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda")
        )
        steps = -(-len(inputs) // config.batch_size)
        schedule = learning_rate_schedule(optimizer, config, steps)
        loop = _EpochLoop(copies, objective, optimizer, schedule, config, device)
        histories: list[list[EpochResult]] = [[] for _ in seeds]
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        with tqdm(
            total=config.epochs * steps,
            desc=name,
            disable=not sys.stderr.isatty(),
            leave=False,
        ) as progress:
            for epoch in range(1, config.epochs + 1):
                orders = torch.stack(
                    [torch.randperm(len(inputs), generator=g) for g in generators]
                ).to(device)
                started, compiling = time.perf_counter(), loop.compile_seconds
                train_loss = loop.run_epoch(inputs, labels, orders, progress)
                # the compile time is reported apart (compile_seconds)
                seconds = (
                    time.perf_counter() - started - (loop.compile_seconds - compiling)
                )
                evaluation = evaluate_copies(copies, objective, *valid)
                for history, loss, (val_loss, accuracy) in zip(
                    histories, train_loss, evaluation, strict=True
                ):
                    history.append(
                        EpochResult(epoch, loss, val_loss, accuracy, seconds)
                    )
                _log_epoch(name, epoch, config.epochs, histories, seconds)
    return TrainingRun(
        seeds, copies.unstack(), histories, loop.path, loop.compile_seconds
    )


class _EpochLoop:
    """One pass over the training set for every copy, in its own shuffled order."""

    def __init__(
        self,
        copies: ModelCopies,
        objective: Objective,
        optimizer: torch.optim.Adam,
        schedule: torch.optim.lr_scheduler.LRScheduler | None,
        config: TrainingConfig,
        device: torch.device,
    ) -> None:
        self.copies, self.optimizer, self.schedule = copies, optimizer, schedule
        self.params = copies.parameters()
        self.state = AdamState.of(optimizer)
        self.eager = TrainStep(copies, objective, optimizer)
        self.step: TrainStep | CompiledStep = self.eager
        self.path, self.compile_seconds = "eager", 0.0
        if should_compile(config.compile, copies.models[0], device):
            self.step = CompiledStep(
                copies, objective, optimizer, self.state, device, self.eager
            )
        self.batch_size = config.batch_size
        self._buffers: tuple[list[Tensor], list[Tensor]] | None = None

    def _gather(
        self, inputs: Tensor, labels: Tensor, orders: Tensor
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Each copy's shuffled training set, gathered once per epoch into
        buffers allocated once (in the inputs' memory layout); each step then
        takes a contiguous slice of them."""
        if self._buffers is None:
            self._buffers = (
                [torch.empty_like(inputs) for _ in orders],
                [torch.empty_like(labels) for _ in orders],
            )
        xs, ys = self._buffers
        for order, x, y in zip(orders, xs, ys, strict=True):
            torch.index_select(inputs, 0, order, out=x)
            torch.index_select(labels, 0, order, out=y)
        return xs, ys

    def _run_step(self, lr: float, inputs: list[Tensor], labels: list[Tensor]):
        step = self.step
        if not isinstance(step, CompiledStep) or step.compiled:
            return step(self.params, self.state, lr, inputs, labels)
        started = time.perf_counter()
        try:
            losses = step(self.params, self.state, lr, inputs, labels)
        except CompileError as error:
            step.sync()  # whatever it did so far, then on in eager mode
            self.step, self.path = self.eager, f"eager (compile failed: {error})"
            logger.warning(
                "training.compile: the compiled step failed, training eagerly: %s",
                error,
            )
            return self.eager(self.params, self.state, lr, inputs, labels)
        self.compile_seconds += time.perf_counter() - started
        self.path = "compiled"
        return losses

    def run_epoch(
        self, inputs: Tensor, labels: Tensor, orders: Tensor, progress: tqdm
    ) -> list[float]:
        """Train one epoch; return each copy's mean training loss."""
        xs, ys = self._gather(inputs, labels, orders)
        self.copies.train()
        (group,) = self.optimizer.param_groups
        size, total = self.batch_size, len(inputs)
        losses = []
        with warnings.catch_warnings():
            # The step applies Adam's functional form, so the scheduler never
            # sees optimizer.step() being called.
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
            for start in range(0, total, size):
                batch = slice(start, start + size)
                losses.append(
                    self._run_step(
                        group["lr"], [x[batch] for x in xs], [y[batch] for y in ys]
                    )
                    * min(size, total - start)
                )
                if self.schedule is not None:
                    self.schedule.step()
                progress.update(1)
        if isinstance(self.step, CompiledStep):
            self.step.sync()
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


@torch.inference_mode()
def evaluate_copies(
    copies: ModelCopies, objective: Objective, inputs: Tensor, labels: Tensor
) -> list[tuple[float, float]]:
    """(loss, accuracy) of each copy on the same labelled set."""
    copies.train(False)
    logits = torch.cat(
        [copies.logits(chunk) for chunk in inputs.split(EVAL_BATCH_SIZE)], dim=1
    )
    copies.train()
    return [
        (
            objective.loss(logits[k], labels).item(),
            (objective.predict(logits[k]) == labels).double().mean().item(),
        )
        for k in range(len(copies))
    ]


def _num_outputs(copies: ModelCopies, sample: Tensor) -> int:
    with torch.inference_mode():
        return copies.logits(sample[:1]).shape[-1]


def _memory_format(model: nn.Module, device: torch.device) -> torch.memory_format:
    """channels_last for convolutions on the CPU: oneDNN's fast layout there."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return (
        torch.channels_last
        if has_conv and device.type == "cpu"
        else torch.contiguous_format
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
