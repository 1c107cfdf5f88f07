import numpy as np
import pytest
from kedro.io import DatasetError, Version

from pytorch_intro.datasets import PointSetDataset, TorchModelDataset
from pytorch_intro.models import ModelConfig, build_model, make_checkpoint

POINTS = {
    "samples": np.array([[1.0, 2.0], [3.0, 4.0]]),
    "annotations": np.array([0, 1]),
}


def test_point_set_round_trip_keeps_the_assignment_keys(tmp_path):
    path = tmp_path / "train.npz"
    PointSetDataset(str(path)).save(POINTS)
    with np.load(path) as raw:
        assert sorted(raw.files) == ["annotations", "samples"]
    loaded = PointSetDataset(str(path)).load()
    np.testing.assert_array_equal(loaded["samples"], POINTS["samples"])
    np.testing.assert_array_equal(loaded["annotations"], POINTS["annotations"])
    assert loaded["source"] == str(path)


def test_read_only_point_set_is_never_overwritten(tmp_path):
    path = tmp_path / "train.npz"
    np.savez(path, **POINTS)
    before = path.read_bytes()
    with pytest.raises(DatasetError, match="read-only"):
        PointSetDataset(str(path), read_only=True).save(POINTS)
    assert path.read_bytes() == before


def test_loading_names_the_file_and_the_problem(tmp_path):
    path = tmp_path / "valid.npz"
    np.savez(path, samples=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(DatasetError, match=r"valid\.npz: missing key\(s\) annotations"):
        PointSetDataset(str(path)).load()
    with pytest.raises(DatasetError, match=r"missing\.npz: no such file$"):
        PointSetDataset(str(tmp_path / "missing.npz")).load()
    hinted = PointSetDataset(str(tmp_path / "missing.npz"), missing_hint="copy it")
    with pytest.raises(DatasetError, match=r"missing\.npz: no such file: copy it"):
        hinted.load()
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match=r"junk\.npz: not a readable \.npz"):
        PointSetDataset(str(tmp_path / "junk.npz")).load()


def test_model_dataset_versions_never_overwrite(tmp_path):
    config = ModelConfig("linear", 2, 1)
    filepath = str(tmp_path / "model.pt")
    first = TorchModelDataset(
        filepath, version=Version(None, "2026-01-01T00.00.00.000Z")
    )
    first.save(make_checkpoint(build_model(config), config))
    second = TorchModelDataset(
        filepath, version=Version(None, "2026-01-02T00.00.00.000Z")
    )
    second.save(make_checkpoint(build_model(config), config))
    versions = sorted(p.name for p in (tmp_path / "model.pt").iterdir())
    assert versions == ["2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"]
    latest = TorchModelDataset(filepath, version=Version(None, None)).load()
    assert latest["architecture"]["name"] == "linear"
    assert not list(tmp_path.rglob("*.tmp"))
