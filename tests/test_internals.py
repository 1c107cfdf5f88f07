"""The Kedro and MLflow internals that ``pytorch_intro.internals`` relies on.

An upgrade that removes or renames one fails here, with a message naming the
attribute and the module to update, instead of somewhere inside a run.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from importlib.metadata import version as installed
from pathlib import Path, PurePosixPath

import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.io import AbstractVersionedDataset, DataCatalog, MemoryDataset, Version
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner, ThreadRunner
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.text import TextDataset
from mlflow.entities import Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

FIX = "update src/pytorch_intro/internals.py"
V1, V2 = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"


@pytest.fixture
def internals():
    """The adapter, imported by the tests that use it: when an internal it
    imports is gone, the checks below still run and name it."""
    return import_module("pytorch_intro.internals")


def _model(path: Path, version: Version | None = None):
    """The project's model dataset, one of its own ``AbstractVersionedDataset``s."""
    from pytorch_intro.datasets import TorchModelDataset  # noqa: PLC0415

    return TorchModelDataset(str(path), version=version)


def _text(tmp_path: Path) -> TextDataset:
    return TextDataset(filepath=str(tmp_path / "a.txt"), version=Version(None, V1))


def _text_save(_):
    return TextDataset.save


def _figure(tmp_path: Path) -> MatplotlibDataset:
    return MatplotlibDataset(filepath=str(tmp_path / "figure.png"))


# (who owns it, the package whose version is named, how to get one, the attribute)
INTERNALS = (
    [
        ("AbstractVersionedDataset", "kedro", lambda _: AbstractVersionedDataset, name)
        for name in ("_get_load_path", "_get_save_path", "_clear_version_cache")
    ]
    + [
        ("AbstractVersionedDataset (a versioned TextDataset)", "kedro", _text, name)
        for name in ("_filepath", "_version")
    ]
    + [
        ("MatplotlibDataset", "kedro-datasets", _figure, name)
        for name in ("_filepath", "_protocol")
    ]
    + [
        ("TextDataset.save (Kedro's save wrapper)", "kedro", _text_save, "__wrapped__"),
        (
            "kedro.framework.hooks.manager",
            "kedro",
            lambda _: import_module("kedro.framework.hooks.manager"),
            "_create_hook_manager",
        ),
        (
            "mlflow.utils.validation",
            "mlflow",
            lambda _: import_module("mlflow.utils.validation"),
            "MAX_PARAM_VAL_LENGTH",
        ),
    ]
)


@pytest.mark.parametrize(
    ("owner", "package", "get", "attribute"),
    INTERNALS,
    ids=[f"{owner}.{attribute}" for owner, _, _, attribute in INTERNALS],
)
def test_every_internal_the_adapter_uses_still_exists(
    tmp_path, owner, package, get, attribute
):
    if not hasattr(get(tmp_path), attribute):
        pytest.fail(
            f"{package} {installed(package)}: {owner} no longer has {attribute}; {FIX}"
        )


def test_kedro_still_records_the_runner_as_its_object_repr(internals):
    source = inspect.getsource(KedroSession.run)
    if '"runner": getattr(runner, "__name__", str(runner))' not in source:
        pytest.fail(
            f"kedro {installed('kedro')}: KedroSession.run no longer records "
            f"run_params['runner'] as getattr(runner, '__name__', str(runner)); "
            f"check runner_name() and {FIX}"
        )
    assert internals.runner_name({"runner": str(ThreadRunner())}) == "ThreadRunner"
    assert internals.runner_name({"runner": str(SequentialRunner())}) == (
        "SequentialRunner"
    )
    assert internals.runner_name({"runner": "None"}) is None  # no runner given
    assert internals.runner_name({}) is None


def test_file_paths_of_local_remote_and_fileless_datasets(tmp_path, internals):
    text = TextDataset(filepath=str(tmp_path / "notes.txt"))
    remote = TextDataset(filepath="memory://notes/notes.txt")
    assert internals.filepath(text) == PurePosixPath(tmp_path / "notes.txt")
    assert internals.filepath(MemoryDataset()) is None
    assert internals.local_filepath(text) == tmp_path / "notes.txt"  # protocol "file"
    model = tmp_path / "model.pt"
    assert internals.local_filepath(_model(model)) == model  # our own: local
    assert internals.filepath(remote) is not None
    assert internals.local_filepath(remote) is None  # protocol "memory"
    assert internals.local_filepath(MemoryDataset()) is None


def test_the_local_file_of_a_kedro_datasets_dataset_reads_back(tmp_path, internals):
    (tmp_path / "figure.png").write_bytes(b"png")
    assert internals.local_filepath(_figure(tmp_path)).read_bytes() == b"png"


def test_load_and_save_paths_and_the_version_of_a_versioned_dataset(
    tmp_path, internals
):
    first = _model(tmp_path / "model.pt", Version(None, V1))
    assert internals.version(first) == Version(None, V1)
    expected = PurePosixPath(tmp_path / "model.pt" / V1 / "model.pt")
    assert internals.save_path(first) == expected
    Path(expected).parent.mkdir(parents=True)
    Path(expected).write_bytes(b"")
    latest = _model(tmp_path / "model.pt", Version(None, None))
    assert internals.load_path(latest) == expected  # the latest version
    unversioned = _model(tmp_path / "plain.pt")
    assert internals.version(unversioned) is None
    assert internals.load_path(unversioned) == PurePosixPath(tmp_path / "plain.pt")
    assert internals.save_path(unversioned) == PurePosixPath(tmp_path / "plain.pt")


def test_the_saved_file_is_the_save_versions_file(tmp_path, internals):
    versioned = TextDataset(
        filepath=str(tmp_path / "report.md"), version=Version(None, V2)
    )
    versioned.save("# report\n")
    assert internals.saved_file(versioned) == tmp_path / "report.md" / V2 / "report.md"
    plain = TextDataset(filepath=str(tmp_path / "plain.md"))
    plain.save("# plain\n")
    assert internals.saved_file(plain) == tmp_path / "plain.md"
    assert internals.saved_file(MemoryDataset()) is None


def test_a_base_class_save_unwrapped_writes_one_version(tmp_path, internals):
    class Shouting(TextDataset):
        def save(self, data: str) -> None:
            internals.save_unwrapped(TextDataset, self, data.upper())

    Shouting(filepath=str(tmp_path / "a.txt"), version=Version(None, V1)).save("hi")
    assert [p.name for p in (tmp_path / "a.txt").iterdir()] == [V1]
    assert (tmp_path / "a.txt" / V1 / "a.txt").read_text() == "HI"


def test_a_pinned_dataset_loads_the_version_it_saved(tmp_path, internals):
    path = str(tmp_path / "notes.txt")
    TextDataset(filepath=path, version=Version(None, V2)).save("theirs")
    ours = TextDataset(filepath=path, version=Version(None, V1))
    with pytest.warns(UserWarning, match="did not match load version"):
        ours.save("ours")  # started earlier, saved later
    assert ours.load() == "theirs"  # Kedro: the latest version
    internals.pin_load_version(ours)
    assert internals.version(ours) == Version(V1, V1)
    assert ours.load() == "ours"
    internals.pin_load_version(MemoryDataset())  # not versioned: left alone


def test_the_hook_manager_calls_registered_hooks_through_a_runner(internals):
    calls = []

    class Recorder:
        @hook_impl
        def after_node_run(self, node):
            calls.append(node.name)

    manager = internals.create_hook_manager()
    manager.register(Recorder())
    pipeline = Pipeline([Node(lambda: 1, None, "one", name="make_one")])
    SequentialRunner().run(pipeline, DataCatalog(), hook_manager=manager)
    assert calls == ["make_one"]


def test_max_param_length_is_what_an_mlflow_store_keeps(
    tmp_path, monkeypatch, internals
):
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("limits"))
    longest = "x" * internals.MAX_PARAM_LENGTH
    client.log_batch(run.info.run_id, params=[Param("longest", longest)])
    assert client.get_run(run.info.run_id).data.params["longest"] == longest
    with pytest.raises(MlflowException, match="length"):
        client.log_batch(run.info.run_id, params=[Param("longer", longest + "x")])
