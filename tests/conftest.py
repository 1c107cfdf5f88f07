"""Shared fixtures. Tests never touch the network."""

from __future__ import annotations

import atexit
import contextlib
import copy
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidator
from matplotlib.figure import Figure

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
    (all six variants and the report), shared by the tests that inspect it."""
    folder = make_project(tmp_path_factory.mktemp("finished_project"))
    with (
        kedro_project(folder),
        KedroSession.create(project_path=folder, env="test") as session,
    ):
        session.run(runner=VariantRunner())  # as `kedro run` runs
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


class _KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release, so tests can read it afterwards.

    Like the project's FigureDataset, a saved figure loads as its PNG bytes.
    """

    def save(self, data) -> None:
        self.saved = data
        if isinstance(data, Figure):
            buffer = io.BytesIO()
            data.savefig(buffer, format="png", dpi=40)
            data = buffer.getvalue()
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
