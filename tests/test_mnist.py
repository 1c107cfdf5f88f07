"""MNIST: IDX files, checksums, downloads from a local server, the subset, normalisation."""

from __future__ import annotations

import functools
import gzip
import hashlib
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml
from kedro.io import AbstractDataset, DatasetError
from pydantic import ValidationError

from pytorch_intro.data.mnist import (
    FILES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    DigitsDataConfig,
    DigitsError,
    DigitsUnavailableError,
    check_sha256,
    read_canonical,
    read_images,
    read_labels,
    read_split,
    select_digits,
    stratified_split,
    subsample,
)
from pytorch_intro.datasets import MNISTDataset, MNISTSubsetDataset
from tests.conftest import PROJECT_ROOT, shared_data_dir

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
LABELS = np.array([0, 1, 2, 3, 4, 9], dtype=np.uint8)
# The digits' entry as the catalog declares it (its digests are MNIST's).
ENTRY = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())[
    "digits.mnist"
]
GZ_NAMES = sorted(f"{name}.gz" for names in FILES.values() for name in names)


def catalog_dataset(path: Path, **overrides) -> MNISTDataset:
    """``digits.mnist`` built from its catalog entry, on another folder."""
    config = ENTRY | {"path": str(path), "lazy": False} | overrides
    return AbstractDataset.from_config("digits.mnist", config)


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
    if not all((folder / name).is_file() for name in GZ_NAMES):
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
    splits = catalog_dataset(mnist_dir, download=False).load()
    assert splits["train"]["source"] == splits["test"]["source"] == "MNIST"
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
    dataset = catalog_dataset(tmp_path / "mnist", lazy=True, download=False)
    with pytest.raises(
        DigitsError, match=r"t10k-labels-idx1-ubyte\.gz: sha256 is"
    ) as e:
        dataset.load()()
    actual = hashlib.sha256(bytes(content)).hexdigest()
    assert f"sha256 is {actual}, expected {ENTRY['sha256'][bad.name]}" in str(e.value)
    assert bad.read_bytes() == bytes(content)  # never deleted or replaced
    # nor a reason to fall back to other data, even with source: auto
    with pytest.raises(DigitsError, match="sha256"):
        select_digits(dataset.load(), _never, DigitsDataConfig(source="auto"))


def test_decompressed_canonical_files_are_accepted(tmp_path, mnist_dir):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in GZ_NAMES:
        raw = gzip.decompress((mnist_dir / name).read_bytes())
        (folder / name.removesuffix(".gz")).write_bytes(raw)
    splits = catalog_dataset(folder, download=False).load()
    assert len(splits["test"]["labels"]) == 10000


def _tiny_idx_folder(folder: Path) -> dict[str, str]:
    """Another data set in MNIST's format (6 digits per split); its digests."""
    folder.mkdir()
    for images, labels in FILES.values():
        write_idx(folder / f"{images}.gz", idx_bytes(IMAGES, IMAGES_MAGIC))
        write_idx(folder / labels, idx_bytes(LABELS, LABELS_MAGIC), compress=False)
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
    }


def test_another_idx_data_set_needs_only_its_catalog_entry(tmp_path):
    sha256 = _tiny_idx_folder(tmp_path / "tiny")
    dataset = catalog_dataset(tmp_path / "tiny", name="Tiny digits", sha256=sha256)
    splits = dataset.load()
    np.testing.assert_array_equal(splits["test"]["images"], IMAGES)
    assert splits["train"]["source"] == splits["test"]["source"] == "Tiny digits"
    # MNIST's digests do not fit its files: refused, naming the file
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: sha256 is"):
        catalog_dataset(tmp_path / "tiny", name="Tiny digits").load()
    # a file the entry lists no digest for is refused too
    sha256.pop("t10k-labels-idx1-ubyte")
    with pytest.raises(DatasetError, match="no sha256 for t10k-labels-idx1-ubyte in"):
        catalog_dataset(tmp_path / "tiny", sha256=sha256).load()


def test_read_canonical_reads_a_folder_and_checks_digests_only_when_given(tmp_path):
    sha256 = _tiny_idx_folder(tmp_path / "tiny")
    assert read_canonical(tmp_path / "tiny")["train"]["source"] == "MNIST"
    assert len(read_canonical(tmp_path / "tiny", sha256, "T")["test"]["labels"]) == 6
    with pytest.raises(
        DigitsUnavailableError, match="t10k-labels-idx1-ubyte.gz missing; put"
    ):
        read_canonical(tmp_path, sha256)


def test_a_malformed_digest_in_the_catalog_is_refused_before_any_request(tmp_path):
    with pytest.raises(DatasetError, match="sha256 of x.gz must be 64 hex digits"):
        catalog_dataset(tmp_path / "mnist", sha256={"x.gz": "not-a-digest"})
    assert not (tmp_path / "mnist").exists()


def test_check_sha256_agrees_with_hashlib(tmp_path):
    path = tmp_path / "small.bin"
    path.write_bytes(np.random.default_rng(2).bytes(10_000))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    check_sha256(path, digest)
    check_sha256(path, digest.upper())  # as some sites publish them
    with pytest.raises(DigitsError, match=f"sha256 is {digest}, expected 0+ "):
        check_sha256(path, "0" * 64)


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
    mirrors = [f"{mirror}/no-such-mirror/", f"{mirror}/"]
    splits = catalog_dataset(folder, mirrors=mirrors, timeout=5).load()
    assert len(splits["train"]["labels"]) == 60000
    assert sorted(p.name for p in folder.iterdir()) == GZ_NAMES
    # a second load uses the verified local files: the mirrors may be gone
    offline = catalog_dataset(folder, mirrors=["http://127.0.0.1:9/"])
    assert len(offline.load()["test"]["labels"]) == 10000


def test_no_network_and_no_files_is_unavailable_not_a_crash(tmp_path):
    dataset = catalog_dataset(
        tmp_path / "mnist", mirrors=["http://127.0.0.1:9/"], timeout=1
    )
    with pytest.raises(DatasetError, match="Connection refused.*source: subset"):
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
        (
            {"source": "internet"},
            r"source\n  Input should be 'auto', 'full' or 'subset' .*='internet'",
        ),
        (
            {"subset_test_fraction": 1.5},
            r"subset_test_fraction\n  Input should be less than 1 .*input_value=1.5",
        ),
        (
            {"subset_test_fraction": 0.0},
            r"subset_test_fraction\n  Input should be greater than 0 .*input_value=0.0",
        ),
        (
            {"max_train": 0},
            r"max_train\n  Input should be greater than or equal to 1 .*input_value=0",
        ),
    ],
)
def test_data_config_names_the_bad_key(raw, message):
    with pytest.raises(ValidationError, match=message):
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
