"""Kedro-Viz previews of the project's datasets, over data written as runs write it.

Each preview is taken as ``kedro viz build --include-previews`` takes it (its
``DataNodeMetadata``), which records the preview and its type, the name of the
return annotation by which the web app picks a renderer.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from kedro.io import AbstractDataset, Version
from kedro_viz.models.flowchart.node_metadata import DataNodeMetadata
from kedro_viz.models.flowchart.nodes import GraphNode

from pytorch_intro.data.points import PointSetGeneratorConfig, generate_point_sets
from pytorch_intro.datasets import (
    MNISTDataset,
    MNISTSubsetDataset,
    PointSetDataset,
    ResultsDataset,
    ServableDataset,
    TorchModelDataset,
)
from pytorch_intro.datasets.report import HTMLReportDataset
from pytorch_intro.models import (
    ModelConfig,
    build_model,
    count_parameters,
    make_checkpoint,
)
from pytorch_intro.serving import export_servable
from tests.conftest import shared_data_dir
from tests.test_datasets import tiny_results
from tests.test_mnist import GZ_NAMES, LABELS, _tiny_idx_folder, catalog_dataset

LATEST = Version(None, None)
MLP = ModelConfig(name="mlp", in_features=2, hidden_sizes=[4], out_features=1)
CLASSES = [str(label) for label in range(10)]


@pytest.fixture(scope="module")
def points() -> dict[str, np.ndarray]:
    return generate_point_sets(PointSetGeneratorConfig(n_train=40, n_valid=10))[0]


def viz_preview(dataset: AbstractDataset) -> tuple[str | None, Any]:
    """The preview's type and the preview, as ``kedro viz build`` records them."""
    node = GraphNode.create_data_node(
        dataset_id="id",
        dataset_name="name",
        layer=None,
        tags=set(),
        dataset=dataset,
        modular_pipelines=set(),
    )
    metadata = DataNodeMetadata(data_node=node)
    return metadata.preview_type, metadata.preview


def test_point_set_preview_shows_the_first_rows_and_the_class_counts(tmp_path, points):
    filepath = str(tmp_path / "train_points.npz")
    PointSetDataset(filepath, version=LATEST).save(points)
    dataset = PointSetDataset(filepath, version=LATEST)
    kind, preview = viz_preview(dataset)
    assert kind == "TablePreview"
    n0, n1 = np.bincount(points["annotations"]).tolist()
    assert preview["columns"] == ["x", "y", f"label (0: {n0}, 1: {n1})"]
    expected = np.column_stack([points["samples"][:5], points["annotations"][:5]])
    np.testing.assert_array_equal(np.array(preview["data"]), expected)
    assert len(dataset.preview(nrows=3)["data"]) == 3


def test_mnist_preview_counts_the_digits_per_class_and_split(tmp_path):
    _tiny_idx_folder(tmp_path / "tiny")
    kind, preview = viz_preview(MNISTDataset(str(tmp_path / "tiny"), sha256=None))
    assert kind == "TablePreview"
    per_class = np.bincount(LABELS, minlength=10).tolist()
    assert preview == {
        "columns": ["split", *CLASSES, "total"],
        "data": [["train", *per_class, len(LABELS)], ["test", *per_class, len(LABELS)]],
    }


def test_mnist_preview_of_the_reference_files_matches_their_labels():
    folder = shared_data_dir() / "mnist"
    if not all((folder / name).is_file() for name in GZ_NAMES):
        pytest.skip(f"the canonical MNIST files are not in {folder}")
    dataset = catalog_dataset(folder, download=False)
    labels = {split: digits["labels"] for split, digits in dataset.load().items()}
    kind, preview = viz_preview(dataset)
    assert kind == "TablePreview"
    assert preview["data"] == [
        [split, *np.bincount(labels[split]).tolist(), len(labels[split])]
        for split in ("train", "test")
    ]


def test_mnist_subset_preview_counts_the_package_data():
    dataset = MNISTSubsetDataset()
    labels = dataset.read()["labels"]
    kind, preview = viz_preview(dataset)
    assert kind == "TablePreview"
    assert preview == {
        "columns": ["split", *CLASSES, "total"],
        "data": [["all", *np.bincount(labels).tolist(), len(labels)]],
    }


def test_results_preview_is_the_saved_document(tmp_path):
    results = tiny_results()
    filepath = str(tmp_path / "digits_results.json")
    ResultsDataset(filepath=filepath, version=LATEST).save(results)
    kind, preview = viz_preview(ResultsDataset(filepath=filepath, version=LATEST))
    assert kind == "JSONPreview"
    assert json.loads(preview) == results.model_dump(mode="json")


def test_checkpoint_preview_gives_the_architecture_and_parameter_count(tmp_path):
    model = build_model(MLP)
    filepath = str(tmp_path / "model.pt")
    TorchModelDataset(filepath, version=LATEST).save(make_checkpoint(model, MLP))
    kind, preview = viz_preview(TorchModelDataset(filepath, version=LATEST))
    assert kind == "JSONPreview"
    assert json.loads(preview) == {
        "architecture": MLP.to_dict(),
        "parameters": count_parameters(model),
        "shapes": {
            "layers.0.weight": [4, 2],
            "layers.0.bias": [4],
            "layers.2.weight": [1, 4],
            "layers.2.bias": [1],
        },
    }


def test_servable_preview_gives_its_inputs_classes_and_parameter_count(
    tmp_path, points
):
    model = build_model(MLP)
    servable = export_servable(model, "xy", points["samples"], "points")
    filepath = str(tmp_path / "servable")
    ServableDataset(filepath, version=LATEST).save(servable)
    kind, preview = viz_preview(ServableDataset(filepath, version=LATEST))
    assert kind == "JSONPreview"
    preview = json.loads(preview)
    assert preview["kind"] == "points"
    assert preview["input_shape"] == ["batch", 2]
    assert preview["classes"] == servable.classes
    assert preview["parameters"] == count_parameters(model) == 2 * 4 + 4 + 4 + 1
    assert preview["shapes"]["model.layers.0.weight"] == [4, 2]


@pytest.mark.parametrize(
    "make",
    [
        lambda folder: PointSetDataset(str(folder / "train.npz"), version=LATEST),
        lambda folder: PointSetDataset(str(folder / "train.npz"), read_only=True),
        lambda folder: MNISTDataset(str(folder / "mnist"), download=False),
        lambda folder: ResultsDataset(filepath=str(folder / "r.json"), version=LATEST),
        lambda folder: TorchModelDataset(str(folder / "model.pt"), version=LATEST),
        lambda folder: ServableDataset(str(folder / "servable"), version=LATEST),
    ],
    ids=["points", "assignment_points", "mnist", "results", "model", "servable"],
)
def test_nothing_saved_yet_gives_no_preview(tmp_path, make):
    dataset = make(tmp_path)
    assert dataset.preview() is None  # raises nothing
    assert viz_preview(dataset)[1] is None
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing downloaded


def test_the_report_files_preview_as_html(tmp_path):
    page = "<html><body><h1>Report</h1></body></html>"
    report = HTMLReportDataset(filepath=str(tmp_path / "report.html"), version=LATEST)
    assert viz_preview(report)[1] is None  # nothing saved yet
    report.save(page)
    kind, preview = viz_preview(
        HTMLReportDataset(filepath=str(tmp_path / "report.html"), version=LATEST)
    )
    assert (kind, preview) == ("HTMLPreview", page)
