"""Device choice, thread count and seeding: the bits of global torch state."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def resolve_device(device: str) -> torch.device:
    """Turn ``auto`` into CUDA when present, else CPU; pass other names through."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextlib.contextmanager
def intra_op_threads(num_threads: int) -> Iterator[None]:
    """Use ``num_threads`` intra-op threads inside the block (0: leave as is)."""
    previous = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global RNG inside the block and restore it afterwards."""
    devices = (
        list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    )
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def flush_denormals() -> Iterator[bool]:
    """Flush subnormal floats to zero in CPU ops on this thread inside the block.

    Dead ReLU units leave Adam moments that decay into subnormal floats, and
    every later step computes on them at a fraction of the normal speed
    (benchmarks/README.md). Flushing them changes no result of these models
    (tests/test_training.py checks the trained parameters are bit-identical).
    The previous setting is restored afterwards. Yields whether this CPU
    supports it (x86 with SSE3, AArch64).
    """
    # no getter: a subnormal double reads back as 0 while flushing is on
    previous = torch.tensor([1e-323], dtype=torch.float64).item() == 0.0
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(previous)
