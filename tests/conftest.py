"""Shared fixtures. Tests never touch the network."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator

from pytorch_intro.settings import CONFIG_LOADER_ARGS

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


class _KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release, so tests can read it afterwards."""

    def _release(self) -> None:
        pass


def run_in_memory(pipeline, inputs: dict) -> dict:
    """Run ``pipeline`` on an in-memory catalog; return every output's data."""
    catalog = DataCatalog()
    for name in pipeline.inputs():
        catalog[name] = inputs[name]
    for name in pipeline.all_outputs():
        catalog[name] = _KeptDataset()
    SequentialRunner().run(pipeline, catalog)
    return {name: catalog.load(name) for name in pipeline.all_outputs()}
