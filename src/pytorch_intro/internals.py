"""Every use of a Kedro or MLflow internal, in one place.

Each function wraps one internal (an underscore attribute, or a module Kedro or
MLflow do not document) that has no public equivalent, and names the version it
was checked against; ``tests/test_internals.py`` fails naming the attribute when
an upgrade removes or renames it. No other module touches a private Kedro or
MLflow attribute. Checked against kedro 1.7.0, kedro-datasets 9.6.0 and mlflow
3.17.2. The third-party warnings a run would print that are not the project's
to fix are filtered here too, each with where it comes from.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset, AbstractVersionedDataset, Version
from pandas.errors import Pandas4Warning

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from mlflow.entities import Param
    from pluggy import PluginManager

#: (message, category, why it is upstream): re-check each on upgrading the
#: package named. Runs filter them (settings.py), and so do the tests
#: (tests/conftest.py), where any other warning is an error.
UPSTREAM_WARNINGS: list[tuple[str, type[Warning], str]] = [
    (
        r"register_new_resolver\(\) is deprecated",
        UserWarning,
        "kedro 1.7.0 (globals, runtime_params) and kedro-mlflow 2.0.3 "
        "(km.random_name) register their resolvers with omegaconf 2.4's "
        "deprecated call",
    ),
    (
        r".*Add type hints to the `predict` method",
        UserWarning,
        "kedro-mlflow 2.0.3 defines KedroPipelineModel.predict without type "
        "hints (MLflow 3.17.2 warns when the class is defined)",
    ),
    (
        r".*Any type hint is inferred as AnyType",
        UserWarning,
        "mlflow 3.17.2 infers its own ResponsesAgent schema on import",
    ),
    (
        r"Support for class-based `config` is deprecated",
        DeprecationWarning,
        "pydantic 2.14 via kedro-mlflow 2.0.3's class-based Config",
    ),
    (
        r"The ``noload`` loader strategy is deprecated",
        DeprecationWarning,
        "SQLAlchemy 2.1 via mlflow 3.17.2's lazy='noload' relationships",
    ),
    (
        r"Operation with range is deprecated",
        Pandas4Warning,
        "mlflow 3.17.2 compares DataFrame columns with a range (pandas 3.1)",
    ),
    (
        r"Accessing the 'model_fields' attribute on the instance",
        DeprecationWarning,
        "kedro 1.7.0's parameter validator reads model_fields off instances",
    ),
    (
        r"Detected pickle protocol",
        UserWarning,
        "torch 2.13.0: torch.export.load's own pickles",
    ),
    (
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        FutureWarning,
        "torch 2.13.0 builds its own deprecated LeafSpec when an ExportedProgram "
        "is deep-copied (Kedro's MemoryDataset does)",
    ),
    (
        r"`torch.jit.script_method` is deprecated",
        DeprecationWarning,
        "torch 2.13.0: inductor's own use of TorchScript while compiling",
    ),
]


def filter_upstream_warnings() -> None:
    """Filter :data:`UPSTREAM_WARNINGS` (the project's own warnings still show)."""
    for message, category, _ in UPSTREAM_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


def ignore_upstream_warnings() -> None:
    """:func:`filter_upstream_warnings`, in a process that runs Kedro's hooks.

    MLflow 3.17.2 checks a ``PythonModel``'s type hints under a "once" filter of
    its own, which overrides these: kedro-mlflow 2.0.3's model module is
    imported here, once, with its warnings recorded and dropped.
    """
    filter_upstream_warnings()
    with warnings.catch_warnings(record=True):
        import kedro_mlflow.mlflow  # noqa: F401, PLC0415


#: The longest parameter value MLflow stores (longer ones are cut with a warning,
#: or refused with ``MLFLOW_TRUNCATE_LONG_VALUES=false``). mlflow 3.17.2:
#: ``mlflow.utils.validation.MAX_PARAM_VAL_LENGTH`` (6000).
MAX_PARAM_LENGTH = 6000  # tests/test_internals.py checks it


def mlflow_params(values: dict[str, Any]) -> list[Param]:
    """``values`` as MLflow params, each cut to the length MLflow stores."""
    from mlflow.entities import Param  # noqa: PLC0415 - not in worker processes

    return [Param(str(k), str(v)[:MAX_PARAM_LENGTH]) for k, v in values.items()]


def filepath(dataset: Any) -> PurePosixPath | None:
    """The path a file dataset was created with: unversioned, no protocol.

    kedro 1.7.0 / kedro-datasets 9.6.0: ``_filepath`` (None: no file).
    """
    return getattr(dataset, "_filepath", None)


def local_filepath(dataset: Any) -> Path | None:
    """The dataset's file on this machine (None: no file, or a remote one).

    kedro-datasets 9.6.0: ``_protocol`` of its fsspec datasets (ours have none).
    """
    path = filepath(dataset)
    if path is None or getattr(dataset, "_protocol", "file") != "file":
        return None
    return Path(str(path))


def load_path(dataset: AbstractVersionedDataset) -> PurePosixPath:
    """The file ``dataset.load()`` reads: its load version's, when versioned.

    kedro 1.7.0: ``_get_load_path()``; raises ``VersionNotFoundError`` (a
    ``DatasetError``) while no version exists.
    """
    return dataset._get_load_path()


def save_path(dataset: AbstractVersionedDataset) -> PurePosixPath:
    """The file ``dataset.save()`` writes: its save version's, when versioned.

    kedro 1.7.0: ``_get_save_path()``; raises ``DatasetError`` if it exists.
    """
    return dataset._get_save_path()


def version(dataset: AbstractVersionedDataset) -> Version | None:
    """The dataset's load/save versions (None: not versioned). kedro 1.7.0: ``_version``."""
    return dataset._version


def save_unwrapped(base: type[AbstractDataset], dataset: Any, data: Any) -> None:
    """Save ``data`` with ``base``'s own ``save``, without Kedro's wrapper (which
    would resolve a second save version when a wrapped ``save`` calls it).

    kedro 1.7.0: ``AbstractDataset.__init_subclass__`` wraps each ``save`` with
    ``functools.wraps``, so the original is ``save.__wrapped__``.
    """
    base.save.__wrapped__(dataset, data)


def saved_file(dataset: Any) -> Path | None:
    """The local file a dataset has just written (its save version's, if versioned)."""
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

    Kedro loads "the latest version", another run's when two runs write the same
    dataset at once. kedro 1.7.0 has no public way to change a load version:
    this sets ``_version`` and calls ``_clear_version_cache()``.
    """
    if isinstance(dataset, AbstractVersionedDataset):
        saved = dataset.resolve_save_version()
        if saved is not None:
            dataset._version = Version(saved, saved)
            dataset._clear_version_cache()


def release_datasets(
    node: Node, catalog: Any, load_counts: dict[str, int], pipeline: Pipeline
) -> None:
    """Release the datasets no node of ``pipeline`` will load any more, as
    Kedro's runners do after each node. kedro 1.7.0:
    ``AbstractRunner._release_datasets``."""
    from kedro.runner import AbstractRunner  # noqa: PLC0415 - not in workers

    AbstractRunner._release_datasets(node, catalog, load_counts, pipeline)


def create_hook_manager() -> PluginManager:
    """A hook manager with Kedro's hook specifications, as a session creates it
    (tests). kedro 1.7.0: ``kedro.framework.hooks.manager._create_hook_manager``."""
    from kedro.framework.hooks.manager import _create_hook_manager  # noqa: PLC0415

    return _create_hook_manager()


_OBJECT_REPR = re.compile(r"<(?:[\w.]+\.)?(?P<name>\w+) object at 0x[0-9a-fA-F]+>")


def runner_name(run_params: dict[str, Any]) -> str | None:
    """The class name of a run's runner (None: the session's default runner).

    kedro 1.7.0 records ``run_params["runner"]`` as ``getattr(runner, "__name__",
    str(runner))``: ``"None"`` when ``session.run()`` got no runner, else the
    object's default repr (``<kedro.runner.thread_runner.ThreadRunner object at 0x7f...>``).
    """
    text = str(run_params.get("runner"))
    if text == "None":
        return None
    match = _OBJECT_REPR.fullmatch(text)
    return match["name"] if match else text
