"""A throwaway copy of the project for the benchmarks that run ``kedro``.

The copy holds the project's ``conf/`` and ``pyproject.toml`` (the package
itself is the installed one), and optionally the canonical MNIST files.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def copy_project(folder: Path, mnist: Path | None = None) -> Path:
    """``folder`` as a project to run ``kedro`` in (with ``mnist`` as its raw MNIST)."""
    shutil.copytree(PROJECT / "conf", folder / "conf")
    shutil.copy(PROJECT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "src").mkdir()
    if mnist is not None:
        shutil.copytree(mnist, folder / "data/01_raw/mnist")
    return folder


@contextlib.contextmanager
def scratch(keep: Path | None, prefix: str) -> Iterator[Path]:
    """A temporary folder, or ``keep`` (created, and left for a look afterwards)."""
    if keep is not None:
        keep.mkdir(parents=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
