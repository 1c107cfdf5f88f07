"""Shared fixtures. Tests never touch the network."""

from __future__ import annotations

import atexit
import contextlib
import copy
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import torch
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidator
from matplotlib.figure import Figure
from xdist.scheduler import LoadFileScheduling

from pytorch_intro.internals import UPSTREAM_WARNINGS
from pytorch_intro.runner import VariantRunner
from pytorch_intro.settings import CONFIG_LOADER_ARGS

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
# One compile cache for the whole test session (and the runs it starts), so a
# graph compiled by one test is found by the next, and nothing is left behind.
if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    atexit.register(shutil.rmtree, os.environ["TORCHINDUCTOR_CACHE_DIR"], True)

# pytest-xdist runs a worker per core: a core's worth of intra-op threads in each
# would fight over the cores (torch's threads spin while they wait).
if workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# The test files that inspect ``finished_project``: run on one worker, which makes it
# once; on another worker a test would wait for it (it is shared through a lock).
FINISHED_PROJECT_FILES = {
    "test_end_to_end.py",
    "test_logged_models.py",
    "test_mlflow_ui.py",
    "test_notebook.py",
    "test_report_render.py",
    "test_serving.py",
}


# The files that take longest (`--durations`), handed out first so that no worker
# is left with a long one at the end; the others follow in their usual order.
LONGEST_FIRST = [
    "test_sweeps.py",
    *sorted(FINISHED_PROJECT_FILES),
    "test_robustness.py",
    "test_sweep_worker.py",
    "test_compiled.py",
    "test_single_variant.py",
    "test_predict.py",
]


def pytest_configure(config: pytest.Config) -> None:
    """The upstream warnings ignored, after pyproject's ``error`` (the one list)."""
    for message, category, _ in UPSTREAM_WARNINGS:
        name = f"{category.__module__}.{category.__qualname__}"
        config.addinivalue_line("filterwarnings", f"ignore:{message}:{name}")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Under pytest-xdist (``--no-loadscope-reorder``), the longest files first."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> Any:
    """pytest-xdist's ``--dist loadfile`` (pyproject.toml): each test file goes to
    one worker, so that its module-scoped fixtures (a server, a sweep, concurrent
    runs, trained models) are made once; the files that inspect
    ``finished_project`` go together. (``--dist loadgroup`` would do this with
    markers, but xdist 3.8 cannot group under pytest 9.)"""
    if config.getvalue("dist") != "loadfile":
        return None  # another --dist: xdist's own

    class FileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return (
                "finished_project"
                if Path(file).name in FINISHED_PROJECT_FILES
                else file
            )

    return FileScheduling(config, log)


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


def make_project(folder: Path) -> Path:
    """A project folder for a Kedro session: conf/ (with the test environment's
    MLflow store in ``folder``), pyproject.toml and the canonical MNIST files
    when available (else the digits run uses the offline subset). The package
    itself is installed. Never the network.
    """
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "src").mkdir()
    # an absolute URI: MLflow caches stores by URI
    (folder / "conf/test/mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: sqlite:///{folder / 'mlflow.db'}\n"
    )
    mnist = shared_data_dir() / "mnist"
    if mnist.is_dir():
        shutil.copytree(mnist, folder / "data/01_raw/mnist")
    else:
        (folder / "conf/test/parameters_offline.yml").write_text(
            "digits:\n  data:\n    source: subset\n"
        )
    return folder


@contextlib.contextmanager
def kedro_project(folder: Path) -> Iterator[Path]:
    """Work inside the project ``folder``; afterwards restore the working
    directory and MLflow's process-wide state.

    kedro-mlflow re-enters its run at every node and leaves it on MLflow's
    process-wide stack; a CLI run exits, a test process must clean up.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        bootstrap_project(folder)
        try:
            yield folder
        finally:
            while mlflow.active_run():
                mlflow.end_run()
            mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def finished_project(tmp_path_factory) -> Path:
    """A project after one default ``kedro run`` in the test environment
    (all six variants and the report), shared by the tests that inspect it.

    Under pytest-xdist the first worker that needs it makes it, in the temporary
    folder all workers share; the others wait for it (a file lock) and reuse it.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    folder, done = shared / "finished_project", shared / "finished_project.done"
    with open(shared / "finished_project.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            folder.mkdir()
            make_project(folder)
            with (
                kedro_project(folder),
                KedroSession.create(project_path=folder, env="test") as session,
            ):
                session.run(runner=VariantRunner())  # as `kedro run` runs
            done.touch()
    return folder


def load_parameters(env: str = "test") -> dict:
    """The project's parameters (base merged with ``env``), as Kedro resolves them."""
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        base_env="base",
        default_run_env=env,
        merge_strategy=CONFIG_LOADER_ARGS["merge_strategy"],
    )
    return loader["parameters"]


def parameter_feed(params: dict, prefix: str = "params:") -> dict:
    """Every nested key as Kedro feeds it to nodes: ``params:a``, ``params:a.b``..."""
    feed = {}
    for key, value in params.items():
        feed[f"{prefix}{key}"] = value
        if isinstance(value, dict):
            feed |= parameter_feed(value, f"{prefix}{key}.")
    return feed


def steps_by_variant(pipeline, problem: str, variants) -> dict[str, list[str]]:
    """Each variant's node names without the namespace, sorted."""
    return {
        variant: sorted(
            n.name.rsplit(".", 1)[1]
            for n in pipeline.nodes
            if n.namespace == f"{problem}.{variant}"
        )
        for variant in variants
    }


def assert_rejected_before_running(
    pipelines: dict, params: dict, key: str, value, message: str
) -> None:
    """Set the dotted parameter ``key`` to ``value``; Kedro's validator must refuse
    the parameters before any node runs, naming the parameter block and ``message``.
    """
    params = copy.deepcopy(params)
    *parents, leaf = key.split(".")
    block = params
    for parent in parents:
        block = block[parent]
    block[leaf] = value
    with pytest.raises(Exception, match=rf"Parameter '{'.'.join(parents)}'.*{message}"):
        ParameterValidator(pipelines).validate_raw_params(params)


# What RunIdentityDataset gives a run, for pipelines run in memory.
RUN_IDENTITY = {
    "token": "in-memory",
    "date": "2026-01-01 00:00:00 UTC",
    "git_commit": None,
    "mlflow_run_id": None,
    "mlflow_experiment_id": None,
    "mlflow_variants_url": None,
}


_FIGURES = tempfile.TemporaryDirectory(prefix="figures-")


class _KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release, so tests can read it afterwards.

    Like the project's FigureDataset, a saved figure loads as its PNG file's path.
    """

    def save(self, data) -> None:
        self.saved = data
        if isinstance(data, Figure):
            path = Path(_FIGURES.name) / f"{uuid.uuid4().hex}.png"
            data.savefig(path, format="png", dpi=40)
            data = str(path)
        super().save(data)

    def _release(self) -> None:
        pass


def run_in_memory(pipeline, inputs: dict) -> dict:
    """Run ``pipeline`` on an in-memory catalog; return every output as saved."""
    # no earlier results to combine with, unless given
    earlier = {name: None for name in pipeline.inputs() if name.endswith("_latest")}
    inputs = {"run_identity": RUN_IDENTITY} | earlier | inputs
    catalog = DataCatalog()
    for name in pipeline.inputs():
        catalog[name] = inputs[name]
    kept = {name: _KeptDataset() for name in pipeline.all_outputs()}
    for name, dataset in kept.items():
        catalog[name] = dataset
    SequentialRunner().run(pipeline, catalog)
    return {name: dataset.saved for name, dataset in kept.items()}
