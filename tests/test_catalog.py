"""Every dataset a registered pipeline persists resolves to a catalog entry or pattern."""

import pytest
import yaml
from kedro.io import DataCatalog

from pytorch_intro.pipeline_registry import register_pipelines
from pytorch_intro.pipelines.simple2d import VARIANTS, create_pipeline
from tests.conftest import PROJECT_ROOT

# Intermediate results deliberately kept in memory: cheap to recompute.
IN_MEMORY = {"simple2d.grid_xy"}


@pytest.fixture(scope="module")
def catalog():
    config = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    return DataCatalog.from_config(config)


def _datasets(pipeline):
    return {name for name in pipeline.datasets() if not name.startswith("params:")}


@pytest.mark.parametrize("name", sorted(register_pipelines()))
def test_every_dataset_is_declared_or_deliberately_in_memory(catalog, name):
    pipeline = register_pipelines()[name]
    resolver = catalog.config_resolver
    explicit = set(catalog.keys())
    undeclared = {
        ds
        for ds in _datasets(pipeline) - IN_MEMORY - explicit
        if resolver.match_dataset_pattern(ds) is None
    }
    assert not undeclared


def test_a_new_variant_gets_versioned_outputs_from_the_patterns(catalog):
    pipeline = create_pipeline(variants=VARIANTS | {"polar_mlp": "polar"})
    assert "simple2d.polar_mlp.model" in _datasets(pipeline)
    config = catalog.config_resolver.resolve_pattern("simple2d.polar_mlp.model")
    assert config["filepath"].endswith("data/06_models/simple2d/polar_mlp/model.pt")
    assert config["versioned"] is True
    assert config["metadata"]["mlflow"] == {"artifact": True}


def test_the_users_raw_files_are_read_only(catalog):
    for split in ("train", "valid"):
        config = catalog.config_resolver.resolve_pattern(f"simple2d.assignment_{split}")
        assert config["read_only"] is True
        assert config["filepath"].endswith(f"data/01_raw/simple2d/{split}.npz")
        generated = catalog.config_resolver.resolve_pattern(
            f"simple2d.generated_{split}"
        )
        assert generated["filepath"] != config["filepath"]
