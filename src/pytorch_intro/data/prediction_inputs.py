"""What the predict pipeline reads (``ACCEPTED``); an input that cannot be used is
named with its reason and the others are still read. No Kedro, no MLflow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pytorch_intro.data.images import ImageError, read_digit
from pytorch_intro.data.mnist import DigitsError, read_images

ACCEPTED = (
    "a folder of PNG/JPEG images of handwritten digits (or one such image), an "
    "MNIST IDX image file (*-idx3-ubyte or *-idx3-ubyte.gz) or a CSV of 2D "
    "points with columns x and y"
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

Kind = Literal["digits", "points"]


class InputError(ValueError):
    """predict.input cannot be read; the message names the path and the fix."""


@dataclass(frozen=True)
class PredictionInputs:
    """Inputs ready for a model (``samples``: (N, 28, 28) uint8 digits or (N, 2)
    float32 points, named in ``names``: file names or row numbers), why the
    others cannot be used (``failed``), and every input's name in ``order``."""

    kind: Kind
    source: str
    names: list[str]
    samples: np.ndarray
    failed: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def model_input(self) -> np.ndarray | pd.DataFrame:
        """What the project's MLflow models take: float32 images (0..255), or
        points as a DataFrame with columns x and y."""
        samples = self.samples.astype(np.float32)
        if self.kind == "points":
            return pd.DataFrame(samples, columns=["x", "y"])
        return samples


def read_prediction_inputs(path: str | Path) -> PredictionInputs:
    """The inputs at ``path``: a folder, an image, an IDX file or a CSV.

    Raises:
        InputError: a missing path, a kind not accepted, or nothing to predict.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(
            f"{path}: no such file or folder. predict.input must be {ACCEPTED}"
        )
    suffix = path.suffix.lower()
    if path.is_dir():  # hidden files and subfolders left out
        files = [p for p in path.iterdir() if p.name[0] != "." and not p.is_dir()]
        return _digits(sorted(files, key=_natural), str(path))
    if suffix in IMAGE_SUFFIXES:
        return _digits([path], str(path))
    if suffix == ".csv":
        return _points(path)
    if not re.search(r"idx3-ubyte(\.gz)?$", path.name, re.IGNORECASE):
        raise InputError(
            f"{path}: predict cannot read a '{suffix or path.name}' file. "
            f"predict.input must be {ACCEPTED}"
        )
    try:
        images = read_images(path)
    except DigitsError as exc:
        raise InputError(f"{exc}. predict.input must be {ACCEPTED}") from exc
    if len(images) == 0:
        raise InputError(f"{path}: the IDX file holds no images")
    names = [str(i) for i in range(len(images))]
    return PredictionInputs("digits", str(path), names, images, order=names)


def _points(path: Path) -> PredictionInputs:
    try:
        frame = pd.read_csv(
            path, skipinitialspace=True, dtype=str, keep_default_na=False
        )
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path}: empty file, expected a CSV with columns x and y"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("x", "y") if c not in frame.columns]
    if missing:
        found = ", ".join(frame.columns) or "none"
        raise InputError(
            f"{path}: the CSV has the columns {found}; predict needs the columns x "
            f"and y (missing: {', '.join(missing)}; other columns such as label "
            "are allowed and ignored)"
        )
    if frame.empty:
        raise InputError(f"{path}: the CSV has no rows of points")
    values = frame[["x", "y"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    usable = np.isfinite(values).all(axis=1)
    failed = {
        str(i): _why_not_a_point(frame.iloc[i], values[i])
        for i in np.flatnonzero(~usable)
    }
    if not usable.any():
        row, why = next(iter(failed.items()))
        raise InputError(
            f"{path}: no row has numeric x and y ({len(frame)} rows; row {row}: {why})"
        )
    names = [str(i) for i in np.flatnonzero(usable)]
    order = [str(i) for i in range(len(frame))]
    points = values[usable].astype(np.float32)
    return PredictionInputs("points", str(path), names, points, failed, order)


def _digits(files: list[Path], source: str) -> PredictionInputs:
    names, images, failed = [], [], {}
    for path in files:
        try:
            images.append(read_digit(path))
            names.append(path.name)
        except ImageError as exc:
            failed[path.name] = str(exc)
    if not images:
        why = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
        raise InputError(
            f"{source}: no image of a digit to predict "
            f"({why or 'the folder has no files'}). predict.input must be {ACCEPTED}"
        )
    order = [path.name for path in files]
    return PredictionInputs("digits", source, names, np.stack(images), failed, order)


def _why_not_a_point(row: pd.Series, values: np.ndarray) -> str:
    reasons = []
    for column, value in zip(("x", "y"), values, strict=True):
        text = row[column]
        if text.strip() == "":
            reasons.append(f"{column} is empty")
        elif np.isnan(value) and text.strip().lower() != "nan":
            reasons.append(f"{column}={text!r} is not a number")
        elif not np.isfinite(value):
            reasons.append(f"{column}={text} is not a finite number")
    return "; ".join(reasons)


def _natural(path: Path) -> list[int | str]:  # 2.png before 10.png
    parts = re.split(r"(\d+)", path.name.lower())
    return [int(part) if part.isdigit() else part for part in parts]
