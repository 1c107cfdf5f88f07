"""Validated training hyperparameters."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import AfterValidator, Field, ValidationInfo

from pytorch_intro.validation import Config

#: Validation context of a saved record: its device need not be present here.
RECORDED = "recorded"


def check_device_available(device: str, info: ValidationInfo) -> str:
    """Fail early when a requested accelerator is not present on this machine."""
    if (info.context or {}).get(RECORDED):
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} but no CUDA device is available here; "
                "use device: auto or device: cpu"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA "
                "device(s) are present"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "device='mps' but MPS is not available here; use device: auto or cpu"
        )
    return device


class TrainingConfig(Config):
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
        seeds: how many seeds (``seed``, ``seed + 1``, ...) to train together;
            the first is the variant's model, the others give the spread of its
            accuracy.
        schedule: ``constant`` (the assignment's: ``lr`` throughout) or
            ``onecycle`` (warm up to ``lr`` over the first quarter of the steps,
            then anneal towards zero; for fast training at large batches).
        compile: ``auto`` (compile the whole training step of the models for
            which the benchmark shows it pays, compile time included: the
            convolutional ones), ``on`` (every model) or ``off`` (eager). A
            step that cannot be compiled here trains eagerly, with a warning
            saying why.
        compile_cache: the folder of inductor's compile cache (kept between
            runs, so only the first run on a machine pays the full compile);
            ``None`` keeps ``$TORCHINDUCTOR_CACHE_DIR`` or inductor's default.
    """

    epochs: Annotated[int, Field(ge=1)]
    batch_size: Annotated[int, Field(ge=1)]
    lr: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    seed: Annotated[int, Field(ge=0)] = 0
    device: Annotated[
        str,
        Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$"),
        AfterValidator(check_device_available),
    ] = "auto"
    num_threads: Annotated[int, Field(ge=0)] = 1
    seeds: Annotated[int, Field(ge=1)] = 1
    schedule: Literal["constant", "onecycle"] = "constant"
    compile: Literal["auto", "off", "on"] = "auto"
    compile_cache: str | None = None

    @property
    def seed_list(self) -> list[int]:
        """The seeds trained together: ``seed``, ``seed + 1``, ..."""
        return [self.seed + k for k in range(self.seeds)]
