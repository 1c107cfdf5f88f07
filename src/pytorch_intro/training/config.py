"""Validated training hyperparameters."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from pytorch_intro.validation import (
    ConfigError,
    check_choice,
    check_int,
    check_positive_float,
)

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
SCHEDULES = ("constant", "onecycle")


@dataclass
class TrainingConfig:
    """How to train: the assignment's optimiser (Adam) on shuffled mini-batches.

    Attributes:
        epochs: passes over the training set (> 0).
        batch_size: samples per optimiser step (> 0).
        lr: Adam learning rate (> 0).
        seed: seeds weight initialisation and the per-epoch shuffling.
        device: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``,
            ``cuda:N`` or ``mps``.
        num_threads: intra-op CPU threads while training; 0 keeps torch's default.
            One thread is much faster for these small models (see ``benchmarks/``).
        seeds: how many seeds (``seed``, ``seed + 1``, ...) to train together
            as one stacked model; the first is the variant's model, the others
            give the spread of its accuracy (see ``training.seeds``).
        schedule: ``constant`` (the assignment's: ``lr`` throughout) or
            ``onecycle`` (warm up to ``lr`` over the first quarter of the steps,
            then anneal towards zero; for fast training at large batches).
    """

    epochs: int
    batch_size: int
    lr: float
    seed: int = 0
    device: str = "auto"
    num_threads: int = 1
    seeds: int = 1
    schedule: str = "constant"

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        self.lr = check_positive_float("lr", self.lr)
        check_int("seed", self.seed, minimum=0)
        check_int("num_threads", self.num_threads, minimum=0)
        check_int("seeds", self.seeds, minimum=1)
        check_choice("schedule", self.schedule, SCHEDULES)
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ConfigError(
                f"device={self.device!r} is not allowed; choose one of: auto, cpu, "
                "cuda, cuda:N, mps"
            )
        check_device_available(self.device)


def check_device_available(device: str) -> None:
    """Fail early when a requested accelerator is not present on this machine."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={device!r} but no CUDA device is available here; "
                "use device: auto or device: cpu"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA "
                "device(s) are present"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            "device='mps' but MPS is not available here; use device: auto or cpu"
        )
