"""Checks before a pipeline starts, so that a run that cannot finish never starts.

Each raises one message naming the file or parameter, what is wrong and how to
fix it. Plain paths and dicts: the hooks (``pytorch_intro.hooks``) call them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pytorch_intro.validation import ConfigError

#: How long a locked MLflow store is waited for before the run is refused.
STORE_LOCK_TIMEOUT = 20.0

FIX_STORE = (
    "or point server.mlflow_tracking_uri in conf/local/mlflow.yml at a store "
    "you can write (e.g. sqlite:///mlflow.db in a writable folder)"
)


class PreflightError(RuntimeError):
    """The environment cannot support the run (a store, a folder, a file)."""


def sqlite_store_path(uri: str, cwd: Path) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (None for other stores)."""
    parsed = urlparse(uri)
    # sqlite:///relative.db -> "/relative.db"; sqlite:////abs.db -> "//abs.db"
    path = unquote(parsed.path)
    if parsed.scheme != "sqlite" or path in ("", "/", "/:memory:"):
        return None
    return cwd / path[1:]  # relative to the working directory, as MLflow reads it


def check_sqlite_store(path: Path, timeout: float = STORE_LOCK_TIMEOUT) -> None:
    """Refuse a run whose MLflow store cannot be written within ``timeout`` s.

    A new store needs a folder in which a file can be created.
    """
    if not path.exists():
        folder = _nearest_existing(path.parent)
        try:
            _probe_folder(folder)
        except OSError as exc:
            raise PreflightError(
                f"MLflow store {path}: cannot create it, {folder} is not a "
                f"writable folder ({exc.strerror or exc}). Make {folder} "
                f"writable, {FIX_STORE}."
            ) from exc
        return
    if path.is_dir():
        raise PreflightError(
            f"MLflow store {path} is a folder, not an SQLite database file: "
            f"remove it, {FIX_STORE}."
        )
    try:
        uri = f"{path.as_uri()}?mode=rw"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as db:
            db.execute("BEGIN IMMEDIATE")
            # Rewrite the header's user_version with its own value, rolled back:
            # a read-only file fails here, not at the run's first metric.
            (version,) = db.execute("PRAGMA user_version").fetchone()
            db.execute(f"PRAGMA user_version = {int(version)}")
            db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        reason = str(exc)
        if "locked" in reason or "busy" in reason:
            what = (
                f"is locked by another process (still locked after {timeout:g} s). "
                "Wait for it to finish or stop it (e.g. a program holding a write "
                "transaction open), then run again"
            )
        elif any(
            word in reason for word in ("readonly", "read-only", "unable to open")
        ):
            what = (
                f"is read-only ({reason}): the run could not record itself. Make "
                "the file and its folder writable (chmod u+w)"
            )
        elif "not a database" in reason or "malformed" in reason:
            what = (
                f"is not a usable SQLite database ({reason}). Move it aside and run "
                "again to start a new store"
            )
        else:
            what = f"cannot be written ({reason})"
        raise PreflightError(f"MLflow store {path} {what}, {FIX_STORE}.") from exc


def check_writable(paths: Iterable[Path]) -> None:
    """Refuse a run whose outputs could not be written: for each output file, the
    nearest existing folder on its path must let a file be created there."""
    checked: set[Path] = set()
    for path in paths:
        folder = _nearest_existing(path.parent)
        if folder in checked:
            continue
        checked.add(folder)
        if not folder.is_dir():
            raise PreflightError(
                f"Cannot write {path}: {folder} is a file where a folder is "
                f"needed. Move {folder} aside, or change the output path in "
                f"conf/base/catalog.yml."
            )
        try:
            _probe_folder(folder)
        except OSError as exc:
            raise PreflightError(
                f"Cannot write {path}: the folder {folder} is not writable "
                f"({exc.strerror or exc}). Make it writable (chmod u+w {folder}), "
                f"or change the output path in conf/base/catalog.yml."
            ) from exc


def check_parameter_blocks(
    parameters: Mapping[str, Any], used: Mapping[str, set[str]]
) -> None:
    """Refuse a key under a problem that no node reads (``used``: problem -> keys
    read), most likely a misspelt or unregistered variant, otherwise ignored."""
    for problem, keys in used.items():
        block = parameters.get(problem)
        unknown = sorted(set(block) - keys) if isinstance(block, Mapping) else []
        if unknown:
            raise ConfigError(
                f"Parameter '{problem}.{unknown[0]}' is not read by any node: "
                f"{problem} has the variants and settings {', '.join(sorted(keys))}. "
                f"Fix the name, or register a new variant in "
                f"src/pytorch_intro/pipelines/{problem}/pipeline.py (VARIANTS)."
            )


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_folder(folder: Path) -> None:
    """Create and remove a file in ``folder`` (raises OSError if that fails)."""
    with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
        pass
