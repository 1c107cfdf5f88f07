import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DatasetError, Version
from matplotlib.figure import Figure

from pytorch_intro.datasets import (
    FigureDataset,
    PointSetDataset,
    ResultsDataset,
    RunIdentityDataset,
    TorchModelDataset,
)
from pytorch_intro.models import ModelConfig, build_model, make_checkpoint
from pytorch_intro.reporting.sections.digits import Results as DigitsResults

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
    config = ModelConfig(name="linear", in_features=2, out_features=1)
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


def _figure() -> Figure:
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_figure_dataset_saves_png_versions_and_loads_their_path(tmp_path):
    filepath = str(tmp_path / "curves.png")
    for version in ("2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"):
        FigureDataset(filepath=filepath, version=Version(None, version)).save(_figure())
    assert len(list((tmp_path / "curves.png").iterdir())) == 2
    data = FigureDataset(filepath=filepath, version=Version(None, None)).load()
    assert Path(data).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def tiny_results() -> DigitsResults:
    """A digits problem's results with one sample per split and no variant."""
    return DigitsResults(
        identity={"token": "run"},
        data={
            "train_source": "MNIST",
            "test_source": "MNIST",
            "n_train": 1,
            "n_test": 1,
            "train_class_counts": [1],
            "test_class_counts": [1],
        },
        variants={},
    )


def test_results_dataset_is_none_until_saved_and_then_round_trips(tmp_path):
    filepath = str(tmp_path / "results.json")
    assert ResultsDataset(filepath=filepath, version=Version(None, None)).load() is None
    results = tiny_results()  # typed: ResultsDataset validates what it loads
    ResultsDataset(filepath=filepath, version=Version(None, None)).save(results)
    assert (
        ResultsDataset(filepath=filepath, version=Version(None, None)).load() == results
    )


def test_results_dataset_still_refuses_a_broken_file(tmp_path):
    broken = tmp_path / "results.json" / "2026-01-01T00.00.00.000Z" / "results.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    dataset = ResultsDataset(
        filepath=str(tmp_path / "results.json"), version=Version(None, None)
    )
    with pytest.raises(DatasetError, match="results.json"):
        dataset.load()


def test_run_identity_is_fixed_for_a_session_and_read_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a git checkout
    dataset = RunIdentityDataset()
    first = dataset.load()
    assert dataset.load() == first
    assert RunIdentityDataset().load()["token"] != first["token"]
    assert first["git_commit"] is None
    assert first["mlflow_run_id"] is None  # no active MLflow run
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", first["date"])
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({"token": "forged"})


def test_run_identity_names_the_checked_out_commit(tmp_path, monkeypatch):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    monkeypatch.chdir(tmp_path)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "HOME": str(tmp_path)}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run([git, *args], check=True, env=env)
    head = subprocess.run(
        [git, "rev-parse", "--short=12", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
    assert RunIdentityDataset().load()["git_commit"] == head
