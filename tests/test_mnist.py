"""MNIST: IDX files, checksums, downloads from a local server, the subset, normalisation."""

from __future__ import annotations

import functools
import gzip
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DatasetError

from pytorch_intro.data.mnist import (
    CANONICAL,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    DigitsDataConfig,
    DigitsError,
    DigitsUnavailableError,
    normalize_images,
    read_images,
    read_labels,
    read_split,
    select_digits,
    stratified_split,
    subsample,
)
from pytorch_intro.datasets import MNISTDataset, MNISTSubsetDataset
from pytorch_intro.validation import ConfigError
from tests.conftest import shared_data_dir

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
LABELS = np.array([0, 1, 2, 3, 4, 9], dtype=np.uint8)


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(
        n.to_bytes(4, "big") for n in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_idx(path: Path, content: bytes, compress: bool = True) -> Path:
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.fixture
def mnist_dir() -> Path:
    folder = shared_data_dir() / "mnist"
    if not all(
        (folder / f.name).is_file() for s in CANONICAL.values() for f in s.values()
    ):
        pytest.skip(f"the canonical MNIST files are not in {folder}")
    return folder


# --- IDX files --------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
def test_good_idx_files_gzip_or_raw(tmp_path, compress):
    images = write_idx(tmp_path / "i", idx_bytes(IMAGES, IMAGES_MAGIC), compress)
    labels = write_idx(tmp_path / "l", idx_bytes(LABELS, LABELS_MAGIC), compress)
    digits = read_split(images, labels, "test files")
    np.testing.assert_array_equal(digits["images"], IMAGES)
    np.testing.assert_array_equal(digits["labels"], LABELS)
    assert digits["labels"].dtype == np.int64
    assert digits["source"] == "test files"


def test_wrong_magic_names_the_file(tmp_path):
    path = write_idx(tmp_path / "labels.gz", idx_bytes(LABELS, LABELS_MAGIC))
    with pytest.raises(
        DigitsError, match=r"labels\.gz: IDX magic number is 2049, expected 2051"
    ):
        read_images(path)


def test_truncated_idx_data_names_the_file(tmp_path):
    content = idx_bytes(IMAGES, IMAGES_MAGIC)[:-100]
    path = write_idx(tmp_path / "images.gz", content)
    with pytest.raises(DigitsError, match=r"images\.gz: header promises 4704 values"):
        read_images(path)


def test_truncated_gzip_stream_names_the_file(tmp_path):
    packed = gzip.compress(idx_bytes(IMAGES, IMAGES_MAGIC))
    path = tmp_path / "images.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DigitsError, match=r"images\.gz: corrupt or truncated gzip"):
        read_images(path)


def test_corrupt_gzip_stream_names_the_file(tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(IMAGES, IMAGES_MAGIC)))
    packed[-6] ^= 0x01  # the CRC no longer matches the data
    path = tmp_path / "images.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(
        DigitsError, match=r"images\.gz: corrupt or truncated gzip file \(CRC check"
    ):
        read_images(path)


def test_a_file_where_the_mnist_folder_belongs_is_named(tmp_path):
    (tmp_path / "mnist").write_text("not a folder")
    dataset = MNISTDataset(path=str(tmp_path / "mnist"), mirrors=[])
    with pytest.raises(DatasetError, match="mnist: a file where the MNIST folder"):
        dataset.load()


def test_wrong_image_dimensions_are_refused(tmp_path):
    path = write_idx(
        tmp_path / "i.gz", idx_bytes(np.zeros((2, 32, 32), np.uint8), IMAGES_MAGIC)
    )
    with pytest.raises(
        DigitsError, match=r"shape \(2, 32, 32\), expected \(N, 28, 28\)"
    ):
        read_images(path)


def test_labels_outside_0_to_9_are_refused(tmp_path):
    path = write_idx(tmp_path / "l.gz", idx_bytes(np.array([1, 10]), LABELS_MAGIC))
    with pytest.raises(DigitsError, match="label 10 outside 0..9"):
        read_labels(path)


def test_image_and_label_counts_must_agree(tmp_path):
    images = write_idx(tmp_path / "images.gz", idx_bytes(IMAGES, IMAGES_MAGIC))
    labels = write_idx(tmp_path / "labels.gz", idx_bytes(LABELS[:5], LABELS_MAGIC))
    with pytest.raises(
        DigitsError, match=r"images\.gz holds 6 images but .*labels\.gz holds 5"
    ):
        read_split(images, labels, "x")


# --- the canonical files through the Kedro dataset --------------------------------


def test_canonical_files_load_with_their_checksums(mnist_dir):
    splits = MNISTDataset(str(mnist_dir), download=False).load()
    assert splits["train"]["images"].shape == (60000, 28, 28)
    assert splits["test"]["images"].shape == (10000, 28, 28)
    assert splits["train"]["images"].dtype == np.uint8
    assert np.bincount(splits["test"]["labels"]).tolist()[:2] == [980, 1135]


def test_lazy_dataset_reads_nothing_until_called(tmp_path):
    loader = MNISTDataset(str(tmp_path / "nowhere"), download=False, lazy=True).load()
    assert callable(loader)
    with pytest.raises(DigitsUnavailableError, match="missing and downloads are off"):
        loader()


def test_a_file_failing_its_checksum_is_an_error_and_is_kept(tmp_path, mnist_dir):
    shutil.copytree(mnist_dir, tmp_path / "mnist")
    bad = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.chmod(0o644)
    content = bytearray(bad.read_bytes())
    content[-1] ^= 0xFF
    bad.write_bytes(bytes(content))
    dataset = MNISTDataset(str(tmp_path / "mnist"), lazy=True, download=False)
    with pytest.raises(DigitsError, match=r"t10k-labels-idx1-ubyte\.gz: sha256 is"):
        dataset.load()()
    assert bad.read_bytes() == bytes(content)  # never deleted or replaced
    # nor a reason to fall back to other data, even with source: auto
    with pytest.raises(DigitsError, match="sha256"):
        select_digits(dataset.load(), _never, DigitsDataConfig(source="auto"))


def test_decompressed_canonical_files_are_accepted(tmp_path, mnist_dir):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for parts in CANONICAL.values():
        for file in parts.values():
            raw = gzip.decompress((mnist_dir / file.name).read_bytes())
            (folder / file.raw_name).write_bytes(raw)
    splits = MNISTDataset(str(folder), download=False).load()
    assert len(splits["test"]["labels"]) == 10000


# --- downloads, from a local server only -------------------------------------------


@pytest.fixture
def mirror(mnist_dir) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(mnist_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_missing_files_are_downloaded_once_from_the_first_working_mirror(
    tmp_path, mirror
):
    folder = tmp_path / "mnist"
    dataset = MNISTDataset(
        str(folder),
        mirrors=[f"{mirror}/no-such-mirror/", f"{mirror}/"],
        retries=1,
        timeout=5,
    )
    splits = dataset.load()
    assert len(splits["train"]["labels"]) == 60000
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f.name for s in CANONICAL.values() for f in s.values())
    # a second load uses the verified local files: the mirrors may be gone
    offline = MNISTDataset(str(folder), mirrors=["http://127.0.0.1:9/"], retries=1)
    assert len(offline.load()["test"]["labels"]) == 10000


def test_no_network_and_no_files_is_unavailable_not_a_crash(tmp_path):
    dataset = MNISTDataset(
        str(tmp_path / "mnist"), mirrors=["http://127.0.0.1:9/"], retries=1, timeout=1
    )
    with pytest.raises(DatasetError, match="connection refused.*source: subset"):
        dataset.load()
    with pytest.raises(DigitsUnavailableError):  # what the auto fallback catches
        dataset.read()
    assert not any((tmp_path / "mnist").glob("*"))  # no half file left behind


# --- choosing the source --------------------------------------------------------


def _never():
    raise AssertionError("this source must not be read")


def _unavailable():
    raise DigitsUnavailableError("no files, no network")


def _subset():
    return {
        "images": np.zeros((100, 28, 28), np.uint8),
        "labels": np.repeat(np.arange(10), 10),
        "source": "subset",
    }


def test_auto_falls_back_to_the_subset_when_mnist_is_unavailable():
    train, test = select_digits(_unavailable, _subset, DigitsDataConfig(source="auto"))
    assert (len(train["labels"]), len(test["labels"])) == (80, 20)
    assert train["source"].startswith("subset")


def test_full_never_falls_back():
    with pytest.raises(DigitsUnavailableError):
        select_digits(_unavailable, _subset, DigitsDataConfig(source="full"))


def test_subset_never_touches_the_full_files():
    train, _ = select_digits(_never, _subset, DigitsDataConfig(source="subset"))
    assert len(train["labels"]) == 80


def test_limits_sample_the_sets_reproducibly():
    config = DigitsDataConfig(source="subset", max_train=30, max_test=5, seed=3)
    first = select_digits(_never, _subset, config)
    second = select_digits(_never, _subset, config)
    assert [len(s["labels"]) for s in first] == [30, 5]
    np.testing.assert_array_equal(first[0]["labels"], second[0]["labels"])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"source": "internet"}, "source='internet' is not allowed"),
        ({"subset_test_fraction": 1.5}, "subset_test_fraction must be between 0 and 1"),
        ({"max_train": 0}, "max_train must be an integer >= 1"),
    ],
)
def test_data_config_names_the_bad_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        DigitsDataConfig(**raw)


def test_stratified_split_keeps_every_digits_share_and_is_disjoint():
    digits = {
        "images": np.arange(200).reshape(200, 1, 1).repeat(28, 1).repeat(28, 2),
        "labels": np.repeat(np.arange(10), 20),
        "source": "s",
    }
    train, test = stratified_split(digits, 0.25, seed=0)
    assert np.bincount(test["labels"]).tolist() == [5] * 10
    ids = lambda s: set(s["images"][:, 0, 0].tolist())  # noqa: E731
    assert not ids(train) & ids(test) and len(ids(train) | ids(test)) == 200
    again, _ = stratified_split(digits, 0.25, seed=0)
    np.testing.assert_array_equal(train["images"], again["images"])
    other, _ = stratified_split(digits, 0.25, seed=1)
    assert ids(other) != ids(train)


def test_subsample_keeps_everything_without_a_limit():
    digits = _subset()
    assert subsample(digits, None, 0) is digits
    assert len(subsample(digits, 7, 0)["labels"]) == 7


def test_the_offline_subset_is_mlxtends_5000_digits():
    digits = MNISTSubsetDataset().load()
    assert digits["images"].shape == (5000, 28, 28)
    assert digits["images"].dtype == np.uint8
    assert np.bincount(digits["labels"]).tolist() == [500] * 10


# --- normalisation --------------------------------------------------------------


def test_normalisation_maps_0_127_5_255_to_minus_1_0_1():
    pixels = np.array([0.0, 127.5, 255.0]).reshape(1, 1, 3)
    np.testing.assert_allclose(normalize_images(pixels).ravel(), [-1.0, 0.0, 1.0])


def test_normalisation_of_uint8_images_adds_a_channel_and_matches_the_formula():
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    out = normalize_images(images)
    assert out.shape == (1, 1, 16, 16) and out.dtype == np.float32
    np.testing.assert_allclose(out.ravel(), np.arange(256) / 127.5 - 1, atol=1e-6)
    assert out.min() == -1.0 and out.max() == 1.0


def test_normalisation_refuses_values_outside_0_to_255():
    with pytest.raises(DigitsError, match="0..255"):
        normalize_images(np.array([[[-3.0, 300.0]]]))
