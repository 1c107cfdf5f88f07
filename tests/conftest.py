"""Shared fixtures. Tests never touch the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The reference data beside the checkout (``../shared/data``), if present."""
    override = os.environ.get("PYTORCH_INTRO_SHARED_DATA")
    return Path(override) if override else PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture
def assignment_files() -> tuple[Path, Path]:
    """The assignment's own train.npz/valid.npz (reference copies)."""
    folder = shared_data_dir() / "simple2d"
    train, valid = folder / "train.npz", folder / "valid.npz"
    if not (train.is_file() and valid.is_file()):
        pytest.skip(f"the assignment's point sets are not in {folder}")
    return train, valid
