"""Checks run before a pipeline starts, so a run that cannot finish never starts.

Each check raises ``PreflightError`` with one message that names the file or
parameter, says what is wrong and how to fix it. Nothing here imports Kedro or
MLflow: the project hooks (``pytorch_intro.hooks``) call these with plain paths
and dicts.
"""

from __future__ import annotations

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
    """The database file of a ``sqlite:///`` tracking URI (None for other stores).

    A relative path is relative to the working directory, as MLflow reads it.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    # sqlite:///relative.db -> "/relative.db"; sqlite:////abs.db -> "//abs.db"
    path = unquote(parsed.path)
    if path in ("", "/", "/:memory:"):
        return None
    path = path[1:]
    return Path(path) if Path(path).is_absolute() else cwd / path


def check_sqlite_store(path: Path, timeout: float = STORE_LOCK_TIMEOUT) -> None:
    """Refuse a run whose MLflow store cannot be written.

    An existing database must accept a write transaction within ``timeout``
    seconds (one header write, rolled back: nothing changes). A new one needs
    a folder in which a file can be created.
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
        connection = sqlite3.connect(
            f"{path.as_uri()}?mode=rw", uri=True, timeout=timeout
        )
    except sqlite3.Error as exc:
        raise _store_error(path, exc, timeout) from exc
    try:
        connection.execute("BEGIN IMMEDIATE")
        # Rewrite the header's user_version with its own value: a real write
        # (a read-only file fails here, not at the run's first metric).
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        connection.execute(f"PRAGMA user_version = {int(version)}")
        connection.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise _store_error(path, exc, timeout) from exc
    finally:
        connection.close()


def _store_error(path: Path, exc: sqlite3.Error, timeout: float) -> PreflightError:
    reason = str(exc)
    if "locked" in reason or "busy" in reason:
        return PreflightError(
            f"MLflow store {path} is locked by another process (still locked "
            f"after {timeout:g} s). Wait for it to finish or stop it (e.g. a "
            f"program holding a write transaction open), then run again, "
            f"{FIX_STORE}."
        )
    if "readonly" in reason or "read-only" in reason or "unable to open" in reason:
        return PreflightError(
            f"MLflow store {path} is read-only ({reason}): the run could not "
            f"record itself. Make the file and its folder writable (chmod u+w), "
            f"{FIX_STORE}."
        )
    if "not a database" in reason or "malformed" in reason:
        return PreflightError(
            f"MLflow store {path} is not a usable SQLite database ({reason}). "
            f"Move it aside and run again to start a new store, {FIX_STORE}."
        )
    return PreflightError(
        f"MLflow store {path} cannot be written ({reason}), {FIX_STORE}."
    )


def check_writable(paths: Iterable[Path]) -> None:
    """Refuse a run whose outputs could not be written.

    For each output file, the nearest folder that already exists on its path
    must be a folder in which a file can be created. Nothing is left behind.
    """
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
    """Refuse parameter blocks that no node of the project reads.

    ``used`` maps a problem (``digits``) to the keys its nodes read
    (``data``, ``training``, ``linear``, ...). A key under a problem that no
    node reads is most likely a misspelt or unregistered variant, which would
    otherwise be ignored without a word.
    """
    for problem, keys in used.items():
        block = parameters.get(problem)
        if not isinstance(block, Mapping):
            continue
        unknown = sorted(set(block) - keys)
        if unknown:
            key = f"{problem}.{unknown[0]}"
            raise ConfigError(
                f"Parameter '{key}' is not read by any node: {problem} has the "
                f"variants and settings {', '.join(sorted(keys))}. Fix the name, "
                f"or register a new variant in "
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
