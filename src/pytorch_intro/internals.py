"""Every use of a Kedro or MLflow internal, in one place.

Some of what the project needs has no public API: where a dataset's file is,
making a dataset load the version it saved, a base class's save without
Kedro's wrapper, MLflow's parameter-length limit, the runner of a run, Kedro's
hook manager outside a session. Each function below wraps one such
internal (an underscore attribute, or a module Kedro/MLflow do not document)
and names the version it was checked against; ``tests/test_internals.py``
fails naming the attribute when an upgrade removes or renames it. No other
module of the package touches a private Kedro or MLflow attribute.

Checked against kedro 1.7.0, kedro-datasets 9.6.0 and mlflow 3.17.2.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset, AbstractVersionedDataset, Version
from mlflow.entities import Param
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem
    from pluggy import PluginManager

#: The longest parameter value MLflow stores; it cuts longer ones with a
#: warning (or refuses them, with ``MLFLOW_TRUNCATE_LONG_VALUES=false``).
#: mlflow 3.17.2: ``mlflow.utils.validation.MAX_PARAM_VAL_LENGTH`` (6000).
MAX_PARAM_LENGTH: int = MAX_PARAM_VAL_LENGTH


def mlflow_params(values: dict[str, Any]) -> list[Param]:
    """``values`` as MLflow params, each cut to the length MLflow stores."""
    return [Param(str(k), str(v)[:MAX_PARAM_LENGTH]) for k, v in values.items()]


def filepath(dataset: Any) -> PurePosixPath | None:
    """The path a file dataset was created with: unversioned, no protocol.

    kedro 1.7.0 / kedro-datasets 9.6.0: ``_filepath``, set by
    ``AbstractVersionedDataset.__init__`` and by kedro-datasets' file datasets;
    None for a dataset without a file (e.g. ``MemoryDataset``).
    """
    return getattr(dataset, "_filepath", None)


def protocol(dataset: Any) -> str:
    """The fsspec protocol of a dataset's file (``"file"`` when it has none).

    kedro-datasets 9.6.0: ``_protocol``, set by its fsspec-based datasets; the
    project's own datasets are local files and have none.
    """
    return getattr(dataset, "_protocol", "file")


def filesystem(dataset: Any) -> AbstractFileSystem:
    """The fsspec filesystem a kedro-datasets dataset reads and writes through.

    kedro-datasets 9.6.0: ``_fs``, set by its fsspec-based datasets.
    """
    return dataset._fs


def local_filepath(dataset: Any) -> Path | None:
    """The dataset's file on this machine (None: no file, or a remote one)."""
    path = filepath(dataset)
    if path is None or protocol(dataset) != "file":
        return None
    return Path(str(path))


def load_path(dataset: AbstractVersionedDataset) -> PurePosixPath:
    """The file ``dataset.load()`` reads: its load version's, when versioned.

    kedro 1.7.0: ``AbstractVersionedDataset._get_load_path()``; raises
    ``VersionNotFoundError`` (a ``DatasetError``) while no version exists.
    """
    return dataset._get_load_path()


def save_path(dataset: AbstractVersionedDataset) -> PurePosixPath:
    """The file ``dataset.save()`` writes: its save version's, when versioned.

    kedro 1.7.0: ``AbstractVersionedDataset._get_save_path()``; raises
    ``DatasetError`` when that version's file exists already.
    """
    return dataset._get_save_path()


def version(dataset: AbstractVersionedDataset) -> Version | None:
    """The dataset's load/save versions (None: not versioned), for ``_describe``.

    kedro 1.7.0: ``AbstractVersionedDataset._version``.
    """
    return dataset._version


def save_unwrapped(base: type[AbstractDataset], dataset: Any, data: Any) -> None:
    """Save ``data`` with ``base``'s own ``save``, without Kedro's wrapper.

    For a dataset whose ``save`` (wrapped by Kedro) calls its base class's:
    the base's wrapped ``save`` would resolve a second save version. kedro
    1.7.0: ``AbstractDataset.__init_subclass__`` wraps each class's ``save``
    with ``functools.wraps`` and itself unwraps it through ``save.__wrapped__``.
    """
    base.save.__wrapped__(dataset, data)


def saved_file(dataset: Any) -> Path | None:
    """The local file a dataset has just written (its save version's, if versioned).

    The versioned file is found with the public ``resolve_save_version()`` and
    ``list_versions()``; only the unversioned path needs ``filepath()``.
    """
    path = local_filepath(dataset)
    if path is None or not isinstance(dataset, AbstractVersionedDataset):
        return path
    saved = dataset.resolve_save_version()
    if saved is None:
        return path
    found = (p for p in dataset.list_versions() if PurePath(p).parent.name == saved)
    return next((Path(p) for p in found), None)


def pin_load_version(dataset: Any) -> None:
    """Make a versioned dataset load the version it has just saved.

    Kedro loads "the latest version", which is another run's when two runs
    write the same dataset at once; a run must read back its own outputs.
    kedro 1.7.0 has no public way to change a dataset's load version: this sets
    ``AbstractVersionedDataset._version`` and calls ``_clear_version_cache()``.
    """
    if isinstance(dataset, AbstractVersionedDataset):
        saved = dataset.resolve_save_version()
        if saved is not None:
            dataset._version = Version(saved, saved)
            dataset._clear_version_cache()


def create_hook_manager() -> PluginManager:
    """A hook manager with Kedro's hook specifications, as a session creates it.

    For running hooks through a runner without a session (tests). kedro 1.7.0:
    ``kedro.framework.hooks.manager._create_hook_manager``, imported here so
    that only its callers fail if it goes.
    """
    from kedro.framework.hooks.manager import _create_hook_manager  # noqa: PLC0415

    return _create_hook_manager()


_OBJECT_REPR = re.compile(r"<(?:[\w.]+\.)?(?P<name>\w+) object at 0x[0-9a-fA-F]+>")


def runner_name(run_params: dict[str, Any]) -> str | None:
    """The class name of a run's runner (None: the session's default runner).

    kedro 1.7.0 records ``run_params["runner"]`` as
    ``getattr(runner, "__name__", str(runner))`` (``KedroSession.run``): the
    string ``"None"`` when ``session.run()`` was given no runner (it then uses
    a ``SequentialRunner``), else the runner object's default repr, e.g.
    ``<kedro.runner.thread_runner.ThreadRunner object at 0x7f...>``.
    """
    text = str(run_params.get("runner"))
    if text == "None":
        return None
    match = _OBJECT_REPR.fullmatch(text)
    return match["name"] if match else text
