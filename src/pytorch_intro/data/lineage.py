"""What a labelled set is: a digest of its values, and where it came from.

A labelled set (``samples``, ``annotations``) may carry ``source`` (a line for
people: "MNIST", a file) and ``origin`` (the details that identify it: the
files and their sha256, a generator's seed). Loaders fill both; the tracking
hook records them as the run's MLflow datasets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np


def digest(samples: np.ndarray, labels: np.ndarray) -> str:
    """16 hex digits of a sha256 over every value, dtype and shape of the set:
    two sets have the same digest only when they hold the same data."""
    sha = hashlib.sha256()
    for values in (samples, labels):
        array = np.ascontiguousarray(values)
        sha.update(f"{array.dtype.str}{array.shape}".encode())
        sha.update(memoryview(array).cast("B"))
    return sha.hexdigest()[:16]


def origin(labelled_set: Mapping[str, Any]) -> dict[str, str]:
    """Where the set came from: its ``source`` line and ``origin`` details."""
    details = {key: str(value) for key, value in labelled_set.get("origin", {}).items()}
    return {"source": str(labelled_set.get("source", "in memory"))} | details
