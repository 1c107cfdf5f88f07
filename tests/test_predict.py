"""The predict pipeline: a trained model's classes for a user's images or points.

The models are trained here in seconds (on the offline MNIST subset and on
generated points), exported as the pipelines export them, logged to a
temporary MLflow store and registered as champions: the pipeline loads them
through MLflow, as after a user's `kedro run`. No network.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from matplotlib.figure import Figure
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from PIL import Image
from pydantic import ValidationError

from pytorch_intro.data.mnist import IMAGES_MAGIC, stratified_split
from pytorch_intro.data.points import PointSetGeneratorConfig, generate_point_sets
from pytorch_intro.data.prediction_inputs import InputError, read_prediction_inputs
from pytorch_intro.datasets import MLflowModelDataset, MNISTSubsetDataset
from pytorch_intro.datasets.mlflow_model import ModelNotFoundError
from pytorch_intro.hooks.models import OUTPUTS, REQUIREMENTS
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.models.registry import ModelConfig
from pytorch_intro.pipeline_registry import register_pipelines
from pytorch_intro.pipelines.predict import create_pipeline
from pytorch_intro.pipelines.predict.config import PredictConfig
from pytorch_intro.serving import MODEL_CODE, Servable, export_servable, save_program
from pytorch_intro.training import TrainingConfig, to_tensors, train
from pytorch_intro.validation import ConfigError
from tests.conftest import (
    assert_rejected_before_running,
    kedro_project,
    load_parameters,
    make_project,
    run_in_memory,
)
from tests.test_robustness import _flat, _kedro_run

CHAMPIONS = {"digits": "pytorch-intro-digits", "points": "pytorch-intro-simple2d"}
DEFAULTS = {kind: f"models:/{name}@champion" for kind, name in CHAMPIONS.items()}


# --- models, trained here and logged like a `kedro run` logs them ----------------------


@pytest.fixture(scope="module")
def digits():
    """The subset split in two: a quick CNN's training digits and the held-out
    test digits the predictions are checked on."""
    subset = MNISTSubsetDataset().load()
    train_digits, test_digits = stratified_split(subset, 0.2, seed=0)
    return train_digits, test_digits


@pytest.fixture(scope="module")
def held_out(digits) -> np.ndarray:
    """The 1,000 test digits (28x28 uint8), shuffled (they come class by class)."""
    images = digits[1]["images"]
    return images[np.random.default_rng(1).permutation(len(images))]


@pytest.fixture(scope="module")
def digits_model(digits) -> Servable:
    train_digits, test_digits = digits
    config = ModelConfig(
        name="cnn", in_channels=1, channels=[8, 16, 32], kernel_size=3, out_features=10
    )
    run = train(
        config,
        to_tensors(
            preprocess("pixels", train_digits["images"]), train_digits["labels"]
        ),
        to_tensors(preprocess("pixels", test_digits["images"]), test_digits["labels"]),
        TrainingConfig(epochs=8, batch_size=32, lr=1e-3, device="cpu", compile="off"),
    )
    return export_servable(run.model, "pixels", test_digits["images"], "digits")


@pytest.fixture(scope="module")
def points_model() -> Servable:
    train_points, valid_points = generate_point_sets(
        PointSetGeneratorConfig(seed=0, n_train=400, n_valid=100)
    )
    run = train(
        ModelConfig(name="mlp", in_features=2, hidden_sizes=[16, 16], out_features=1),
        to_tensors(train_points["samples"], train_points["annotations"]),
        to_tensors(valid_points["samples"], valid_points["annotations"]),
        TrainingConfig(epochs=3, batch_size=8, lr=1e-2, device="cpu", compile="off"),
    )
    return export_servable(run.model, "xy", valid_points["samples"], "points")


def _log_variant(
    servable: Servable, variant: str, parent: str, experiment: str, folder: Path
) -> str:
    """Log ``servable`` in a child run ``variant`` of ``parent``; its model id."""
    program = folder / f"{variant}.pt2"
    save_program(servable.program, program)
    example = servable.input_example
    model_input = (
        pd.DataFrame(example, columns=["x", "y"])
        if servable.kind == "points"
        else example
    )
    signature = ModelSignature(infer_signature(model_input).inputs, OUTPUTS)
    with mlflow.start_run(
        experiment_id=experiment, run_name=variant, nested=True, parent_run_id=parent
    ):
        info = mlflow.pyfunc.log_model(
            name=variant.replace(".", "-"),
            python_model=str(MODEL_CODE),
            artifacts={"program": str(program)},
            signature=signature,
            input_example=model_input,
            metadata={"kind": servable.kind, "classes": servable.classes},
            pip_requirements=REQUIREMENTS,  # not inferred: that takes a while
        )
    return info.model_id


def _store(folder: Path, models: dict[str, tuple[str, Servable]]) -> str:
    """An MLflow store at ``folder/mlflow.db``: one parent run with a child run
    per variant, each variant's model registered as its kind's champion.
    Returns the parent run's id."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        client = MlflowClient()
        experiment = client.create_experiment(
            "pytorch-intro", artifact_location=(folder / "mlruns").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment, run_name="__default__") as run:
            parent = run.info.run_id
            for kind, (variant, servable) in models.items():
                model_id = _log_variant(servable, variant, parent, experiment, folder)
                version = mlflow.register_model(f"models:/{model_id}", CHAMPIONS[kind])
                client.set_registered_model_alias(
                    CHAMPIONS[kind], "champion", version.version
                )
        return parent
    finally:
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def project(tmp_path_factory, digits_model, points_model):
    """A project folder whose MLflow store holds a training run (digits.cnn,
    simple2d.mlp) and both champions; ``project.parent_run`` is its run id."""
    folder = make_project(tmp_path_factory.mktemp("predict_project"))
    parent = _store(
        folder,
        {
            "digits": ("digits.cnn", digits_model),
            "points": ("simple2d.mlp", points_model),
        },
    )
    (folder / "parent_run_id").write_text(parent)
    return folder


@pytest.fixture
def tracking(project):
    """MLflow pointed at the project's store (as kedro-mlflow does in a session)."""
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    yield project
    mlflow.set_tracking_uri(None)


def _predict(path: Path, **params) -> dict:
    """The predict pipeline in memory, on the real reader and model loader."""
    config = PredictConfig.model_validate(
        {"input": str(path), "default_models": DEFAULTS} | params
    )
    return run_in_memory(
        create_pipeline(),
        {
            "predict.input_reader": read_prediction_inputs,
            "predict.model_loader": MLflowModelDataset(lazy=True).load(),
            "params:predict": config,
        },
    )


# --- the user's files --------------------------------------------------------------


def _rgb(grey: np.ndarray, ink: tuple[int, int, int], paper: tuple[int, int, int]):
    """A white-on-black grey digit as ``ink`` on ``paper`` (RGB)."""
    share = grey[..., None] / 255.0
    colour = share * np.array(ink) + (1 - share) * np.array(paper)
    return Image.fromarray(np.round(colour).astype(np.uint8), "RGB")


def _canvas(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` in the middle of a black canvas of ``size``."""
    canvas = Image.new(image.mode, size, 0)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas


#: How the i-th digit is written (i % CYCLE; AS_IS for the keys not here): most
#: as MNIST has them, inverted, in colour, in other PNG modes (the conversion
#: must give back the very digit); some enlarged, smoothly or not, on canvases
#: of other shapes, or as a JPEG (ENLARGED: the blur of enlarging is not undone
#: exactly, a quick model agrees on about 97% of them).
WRITERS = {
    0: ("png", Image.fromarray),
    1: ("png", lambda d: Image.fromarray(255 - d)),
    2: ("png", lambda d: _rgb(d, ink=(20, 30, 120), paper=(250, 245, 225))),
    3: ("png", lambda d: Image.fromarray(d).convert("RGB")),
    4: ("png", lambda d: Image.fromarray((255 - d).astype(np.uint16) * 257)),
    5: ("png", lambda d: Image.fromarray(255 - d).convert("P")),
    6: (
        "png",
        lambda d: Image.fromarray(np.dstack([np.zeros_like(d)] * 3 + [d]), "RGBA"),
    ),
    7: (
        "png",
        lambda d: Image.fromarray(d).resize((56, 56), Image.Resampling.BILINEAR),
    ),
    8: (
        "png",
        lambda d: _canvas(
            Image.fromarray(d).resize((84, 84), Image.Resampling.BICUBIC), (112, 84)
        ),
    ),
    9: (
        "png",
        lambda d: Image.fromarray(255 - d).resize((56, 56), Image.Resampling.NEAREST),
    ),
    10: (
        "jpg",
        lambda d: _rgb(d, ink=(10, 10, 10), paper=(240, 240, 235)).resize(
            (140, 140), Image.Resampling.LANCZOS
        ),
    ),
}
AS_IS = ("png", Image.fromarray)
CYCLE = 25
ENLARGED = (7, 8, 9, 10)


def _write_digits(folder: Path, images: np.ndarray) -> list[str]:
    """Each digit as an image file in ``folder``; the file names, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, digit in enumerate(images):
        suffix, write = WRITERS.get(i % CYCLE, AS_IS)
        name = f"digit-{i:04d}.{suffix}"
        write(digit).save(folder / name, **({"quality": 92} if suffix == "jpg" else {}))
        names.append(name)
    return names


def _write_broken(folder: Path) -> dict[str, str]:
    """Files that are not digits; what the CSV must say of each."""
    (folder / "broken.png").touch()
    (folder / "letter.jpg").write_text("Dear user, this is not a picture.\n")
    Image.new("L", (64, 64), 255).save(folder / "blank.png")
    return {
        "broken.png": "empty file (0 bytes)",
        "letter.jpg": "not an image (",
        "blank.png": "no digit found (blank image)",
    }


def _write_idx(path: Path, images: np.ndarray) -> Path:
    header = np.array([IMAGES_MAGIC, len(images), 28, 28], dtype=">u4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)  # a fresh clone has no data/01_raw
    path.write_bytes(gzip.compress(header + images.astype(np.uint8).tobytes()))
    return path


def _classes(servable: Servable, inputs: np.ndarray) -> np.ndarray:
    return servable.predict(np.asarray(inputs, dtype=np.float32)).argmax(axis=1)


# --- digits ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_folder_of_real_digits_gets_the_classes_of_the_original_digits(
    tracking, tmp_path, held_out, digits_model
):
    """Real MNIST test digits written as image files (most as MNIST has them,
    others inverted, coloured, 16-bit, palette, transparent, enlarged, JPEG):
    the pipeline's class for each file is the in-process model's class for the
    original 28x28 digit; the files that are not digits are named."""
    originals = held_out[:600]
    folder = tmp_path / "photos"
    names = _write_digits(folder, originals)
    broken = _write_broken(folder)

    outputs = _predict(folder)
    table = outputs["predict.predictions"].set_index("input")

    assert len(table) == len(names) + len(broken)
    ok = table.loc[names]
    assert (ok["error"] == "").all()
    expected = pd.Series(_classes(digits_model, originals), index=names)
    same = ok["predicted"] == expected
    by_writer = same.groupby([i % CYCLE for i in range(len(names))]).mean()
    assert same.mean() >= 0.99, str(by_writer.to_dict())
    assert by_writer.drop(list(ENLARGED)).min() == 1.0, str(by_writer.to_dict())
    assert by_writer[list(ENLARGED)].min() >= 0.9, str(by_writer.to_dict())
    for name, reason in broken.items():
        assert table.loc[name, "error"].startswith(reason)
        assert pd.isna(table.loc[name, "predicted"])
    top = ok["top3"].iloc[0].split(", ")
    assert len(top) == 3 and top[0].startswith(f"{ok['predicted'].iloc[0]} (")
    assert isinstance(outputs["predict.figure"], Figure)


@pytest.mark.slow
def test_an_idx_file_is_predicted_as_it_is(tracking, tmp_path, held_out, digits_model):
    images = held_out[:50]
    outputs = _predict(_write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images))
    table = outputs["predict.predictions"]
    assert table["input"].tolist() == [str(i) for i in range(50)]
    assert table["predicted"].tolist() == _classes(digits_model, images).tolist()
    np.testing.assert_allclose(
        table["probability"],
        digits_model.predict(images.astype(np.float32)).max(axis=1),
        atol=1e-4,
    )


@pytest.mark.slow
def test_a_training_runs_variant_can_be_chosen(tracking, project, tmp_path, held_out):
    images = held_out[:20]
    path = _write_idx(tmp_path / "few-idx3-ubyte.gz", images)
    parent = (project / "parent_run_id").read_text()
    by_run = _predict(path, run_id=parent, variant="digits.cnn")
    champion = _predict(path)
    pd.testing.assert_frame_equal(
        by_run["predict.predictions"], champion["predict.predictions"]
    )
    assert by_run["predict.model_name"] == f"digits.cnn of run {parent}"
    with pytest.raises(
        ModelNotFoundError,
        match=r"has no variant 'digits\.mlp'; its variants: digits\.cnn, simple2d\.mlp",
    ):
        _predict(path, run_id=parent, variant="digits.mlp")


@pytest.mark.slow
def test_a_model_for_points_is_refused_for_images(tracking, tmp_path, held_out):
    path = _write_idx(tmp_path / "few-idx3-ubyte", held_out[:3])
    with pytest.raises(
        Exception, match="is a model of points, but the inputs are digits"
    ):
        _predict(path, model=DEFAULTS["points"])


# --- points ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_csv_of_points_gets_the_2d_champions_classes(
    tracking, tmp_path, points_model
):
    points = generate_point_sets(
        PointSetGeneratorConfig(seed=5, n_train=40, n_valid=2)
    )[0]
    frame = pd.DataFrame(points["samples"], columns=["x", "y"]).assign(
        label=points["annotations"]
    )
    frame = frame.astype(object)
    frame.loc[3, "x"], frame.loc[7, "y"], frame.loc[9, "x"] = "abc", "", "inf"
    frame.to_csv(tmp_path / "points.csv", index=False)

    table = _predict(tmp_path / "points.csv")["predict.predictions"]

    assert table["input"].tolist() == [str(i) for i in range(40)]
    bad = {
        3: "x='abc' is not a number",
        7: "y is empty",
        9: "x=inf is not a finite number",
    }
    assert table.loc[list(bad), "error"].tolist() == list(bad.values())
    good = table.drop(index=list(bad))
    samples = np.delete(points["samples"], list(bad), axis=0)
    assert good["predicted"].tolist() == _classes(points_model, samples).tolist()
    assert (good["error"] == "").all()


@pytest.mark.slow
def test_a_csv_without_x_and_y_is_one_error_naming_the_columns(tracking, tmp_path):
    pd.DataFrame({"a": [1.0], "b": [2.0], "label": [0]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    with pytest.raises(InputError) as error:
        _predict(tmp_path / "p.csv")
    assert str(error.value) == (
        f"{tmp_path / 'p.csv'}: the CSV has the columns a, b, label; predict needs "
        "the columns x and y (missing: x, y; other columns such as label are "
        "allowed and ignored)"
    )


# --- what cannot be predicted ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["missing", "notes.txt"])
def test_a_missing_path_or_an_unknown_kind_says_what_is_accepted(tmp_path, name):
    path = tmp_path / name
    if name != "missing":
        path.write_text("hello")
    with pytest.raises(
        InputError, match="predict.input must be a folder of PNG/JPEG images"
    ) as error:
        read_prediction_inputs(path)
    assert str(error.value).startswith(str(path))
    assert "IDX image file (*-idx3-ubyte or *-idx3-ubyte.gz)" in str(error.value)


def test_a_folder_without_a_single_digit_is_an_error_naming_it(tmp_path):
    folder = tmp_path / "nothing"
    folder.mkdir()
    _write_broken(folder)
    with pytest.raises(InputError) as error:
        read_prediction_inputs(folder)
    message = str(error.value)
    assert message.startswith(f"{folder}: no image of a digit to predict (")
    for name in ("broken.png", "letter.jpg", "blank.png"):
        assert name in message


@pytest.mark.slow
def test_a_model_not_registered_yet_says_how_to_get_one(tracking):
    """As on a store where no run has registered a champion (the `kedro run`
    test below has the real empty store)."""
    uri = f"sqlite:///{tracking / 'mlflow.db'}"
    load = MLflowModelDataset(
        lazy=True, trained_by={"pytorch-intro-cats": "cats"}
    ).load()
    messages = {}
    for name in ("pytorch-intro-cats", "someone-elses"):
        with pytest.raises(ModelNotFoundError) as error:
            load(f"models:/{name}@champion", kind="digits")
        messages[name] = str(error.value)
    assert messages["pytorch-intro-cats"] == (
        f"no model 'pytorch-intro-cats' with alias 'champion' in {uri}: run "
        "`kedro run` (or `kedro run --pipelines=cats`) to train and register "
        "one, or set predict.model"
    )
    assert messages["someone-elses"] == (
        f"no model 'someone-elses' with alias 'champion' in {uri}: run "
        "`kedro run` to train and register one, or set predict.model"
    )
    with pytest.raises(ModelNotFoundError, match="no MLflow run 'f00' in sqlite:"):
        load(run_id="f00", variant="digits.cnn")


def test_bad_parameters_are_refused_before_the_run():
    pipelines = register_pipelines()
    params = load_parameters("base")
    assert_rejected_before_running(
        pipelines,
        params,
        "predict.run_id",
        "abc",
        r"PredictConfig\n  Value error, predict.run_id needs predict.variant",
    )
    assert_rejected_before_running(
        pipelines,
        params,
        "predict.variant",
        "cnn",
        "PredictConfig\nvariant\n  "
        + re.escape(r"String should match pattern '^\w+\.\w+$' [type=string_pattern")
        + ".*='cnn'",
    )
    assert_rejected_before_running(
        pipelines,
        params,
        "predict.figure_max_images",
        0,
        r"PredictConfig\nfigure_max_images\n  Input should be greater than or equal to 1",
    )
    assert_rejected_before_running(
        pipelines,
        params,
        "predict.modle",
        "x",
        r"PredictConfig\nmodle\n  Extra inputs are not permitted",
    )
    with pytest.raises(
        ValidationError, match="predict.model and predict.run_id are both set"
    ):
        PredictConfig.model_validate(
            {
                "model": "models:/m",
                "run_id": "r",
                "variant": "digits.cnn",
                "default_models": DEFAULTS,
            }
        )
    with pytest.raises(
        ConfigError,
        match=r"predict.input is not set: run `kedro run --pipelines=predict --params=predict.input=PATH`",
    ):
        PredictConfig.model_validate({"default_models": DEFAULTS}).require_input()


# --- through Kedro --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_kedro_session_predicts_an_idx_file_with_a_runs_variant(
    project, held_out, digits_model
):
    images = held_out[:30]
    path = _write_idx(project / "data/01_raw/t10k-images-idx3-ubyte.gz", images)
    parent = (project / "parent_run_id").read_text()
    params = {
        "predict": {"input": str(path), "run_id": parent, "variant": "digits.cnn"}
    }
    with (
        kedro_project(project),
        KedroSession.create(
            project_path=project, env="test", runtime_params=params
        ) as session,
    ):
        session.run(pipeline_names=["predict"])
    (csv,) = (project / "data/07_model_output/predict/predictions.csv").glob(
        "*/predictions.csv"
    )
    table = pd.read_csv(csv)
    assert table["predicted"].tolist() == _classes(digits_model, images).tolist()
    assert list(table.columns) == ["input", "predicted", "probability", "top3", "error"]
    assert (
        len(
            list(
                (project / "data/08_reporting/predict/predictions.png").glob(
                    "*/predictions.png"
                )
            )
        )
        == 1
    )


@pytest.mark.slow
def test_kedro_run_predicts_a_folder_and_names_the_broken_files(
    project, held_out, digits_model
):
    originals = held_out[:40]
    folder = project / "data/01_raw/photos"
    names = _write_digits(folder, originals)
    broken = _write_broken(folder)
    result = _kedro_run(
        project, "--pipelines=predict", f"--params=predict.input={folder}"
    )
    output = _flat(result.stdout + result.stderr)
    assert result.returncode == 0, output[-3000:]
    csv = max(
        (project / "data/07_model_output/predict/predictions.csv").glob(
            "*/predictions.csv"
        )
    )
    table = pd.read_csv(csv, keep_default_na=False).set_index("input")
    assert len(table) == len(names) + len(broken)
    for name, reason in broken.items():
        assert table.loc[name, "error"].startswith(reason)
        assert table.loc[name, "predicted"] == ""
    predicted = table.loc[names, "predicted"].astype(int).to_numpy()
    assert (predicted == _classes(digits_model, originals)).mean() >= 0.95
    assert "3 of 43 inputs in" in output and "cannot be predicted" in output


@pytest.mark.slow
def test_kedro_run_without_a_champion_says_how_to_get_one(tmp_path):
    project = make_project(tmp_path / "fresh")
    folder = project / "data/01_raw/photos"
    folder.mkdir(parents=True)
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(folder / "slash.png")
    result = _kedro_run(
        project, "--pipelines=predict", f"--params=predict.input={folder}"
    )
    output = _flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert (
        f"no model 'pytorch-intro-digits' with alias 'champion' in "
        f"sqlite:///{project / 'mlflow.db'}: run `kedro run` (or `kedro run "
        "--pipelines=digits`) to train and register one, or set predict.model"
    ) in output
    assert not list(project.glob("data/07_model_output/predict/*/*"))
