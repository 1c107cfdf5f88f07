"""Images of handwritten digits made MNIST-like (pytorch_intro.data.images)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pytorch_intro.data.images import (
    BLANK,
    ImageError,
    mnist_digit,
    read_digit,
    read_grey,
    to_grey,
)
from pytorch_intro.datasets import MNISTSubsetDataset


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """100 real MNIST digits (the offline subset, 10 of each class)."""
    subset = MNISTSubsetDataset().load()
    index = np.concatenate(
        [np.flatnonzero(subset["labels"] == c)[:10] for c in range(10)]
    )
    return subset["images"][index]


def _box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the bounding box of the non-zero pixels."""
    rows, cols = np.nonzero(image.any(axis=1))[0], np.nonzero(image.any(axis=0))[0]
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    weights = image.astype(np.float64)
    rows, cols = np.mgrid[: image.shape[0], : image.shape[1]]
    total = weights.sum()
    return (weights * rows).sum() / total, (weights * cols).sum() / total


def _drawn_eight(size: tuple[int, int], ink: int, paper: int) -> Image.Image:
    """A large '8' (two rings), drawn off-centre, ``ink`` on ``paper``."""
    width, height = size
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    x, unit = width // 5, height // 10
    line = max(1, unit // 2)
    draw.ellipse((x, unit, x + 3 * unit, 4 * unit), outline=ink, width=line)
    draw.ellipse(
        (x - unit // 2, 4 * unit, x + 3 * unit + unit // 2, 8 * unit),
        outline=ink,
        width=line,
    )
    return image


def _save(image: Image.Image, path, **options):
    image.save(path, **options)
    return path


# --- MNIST's own digits ------------------------------------------------------


def test_an_mnist_digit_comes_back_as_it_was(digits):
    for digit in digits:
        converted = mnist_digit(digit / 255.0)
        # the strongest ink becomes 255: a digit whose brightest pixel is 254
        # gains at most a grey level or two
        assert np.abs(converted.astype(int) - digit).max() <= 2


def test_black_on_white_is_inverted_to_white_on_black(digits):
    for digit in digits[::7]:
        inverted = mnist_digit(1.0 - digit / 255.0)
        np.testing.assert_array_equal(inverted, mnist_digit(digit / 255.0))


def test_grey_paper_and_grey_ink_give_the_same_digit(digits):
    digit = digits[33] / 255.0
    faded = 0.35 + 0.4 * (1.0 - digit)  # dark grey ink on light grey paper
    np.testing.assert_allclose(
        mnist_digit(faded).astype(int), mnist_digit(digit).astype(int), atol=2
    )


# --- the 20 px box and the centre of mass --------------------------------------


@pytest.mark.parametrize(
    ("height", "width", "box"), [(40, 10, (20, 5)), (6, 60, (2, 20)), (9, 9, (20, 20))]
)
def test_the_larger_side_becomes_20_px_and_the_aspect_ratio_is_kept(height, width, box):
    canvas = np.zeros((100, 120))
    canvas[30 : 30 + height, 50 : 50 + width] = 1.0
    converted = mnist_digit(canvas)
    assert _box(converted) == box


def test_the_digit_is_centred_by_its_centre_of_mass_not_its_box():
    # an L: its box is centred by nothing, its centre of mass lies near the corner
    canvas = np.zeros((200, 200))
    canvas[10:150, 5:25] = 1.0
    canvas[130:150, 5:120] = 1.0
    converted = mnist_digit(canvas)
    row, col = _centre_of_mass(converted)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    height, width = _box(converted)
    assert max(height, width) == 20
    rows = np.nonzero(converted.any(axis=1))[0]
    assert rows[0] + rows[-1] != 27  # the box itself is not centred


def test_a_digit_drawn_off_centre_on_a_large_page_is_centred(digits):
    page = np.zeros((300, 400))
    page[17:45, 300:328] = digits[55] / 255.0  # 28x28 at the top right
    np.testing.assert_allclose(
        mnist_digit(page).astype(int),
        mnist_digit(digits[55] / 255.0).astype(int),
        atol=2,
    )


# --- sizes far from 28x28 ------------------------------------------------------------


def test_a_huge_photo_like_image_is_converted(tmp_path):
    path = _save(
        _drawn_eight((3000, 2000), ink=25, paper=235).convert("RGB"),
        tmp_path / "8.jpg",
        quality=80,
    )
    converted = read_digit(path)
    assert converted.shape == (28, 28) and converted.dtype == np.uint8
    assert max(_box(converted)) == 20
    row, col = _centre_of_mass(converted)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    assert converted.max() == 255 and converted[0].max() == 0


def test_a_tiny_image_is_enlarged_to_the_box():
    tiny = np.zeros((5, 5))
    tiny[:, 2] = 1.0  # a "1", one pixel wide, touching the top and bottom
    converted = mnist_digit(tiny)
    height, width = _box(converted)
    assert height == 20 and width <= 6


# --- image modes -------------------------------------------------------------------


def test_palette_16_bit_rgb_and_grey_pngs_read_the_same(tmp_path, digits):
    digit = digits[71]
    grey = Image.fromarray(255 - digit)  # black on white, as on paper
    expected = read_digit(_save(grey, tmp_path / "grey.png"))
    wide = Image.fromarray((255 - digit).astype(np.uint16) * 257)
    assert wide.mode.startswith("I;16")
    variants = {
        "palette": grey.convert("P"),
        "16-bit": wide,
        "rgb": grey.convert("RGB"),
        "colour": Image.merge("RGB", [grey, grey.point(lambda v: v // 2 + 128), grey]),
    }
    for name, image in variants.items():
        path = _save(image, tmp_path / f"{name}.png")
        if name == "16-bit":
            with Image.open(path) as reread:
                assert reread.mode.startswith("I")
        np.testing.assert_allclose(
            read_digit(path).astype(int), expected.astype(int), atol=3, err_msg=name
        )


@pytest.mark.parametrize(("ink", "hidden"), [(0, 0), (0, 255), (255, 0), (255, 255)])
def test_an_rgba_png_with_a_transparent_background(tmp_path, digits, ink, hidden):
    """Black or white ink on a transparent background, whatever colour the
    transparent pixels have, reads as the digit."""
    digit = digits[12]
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = ink
    rgba[..., :3][digit == 0] = hidden
    rgba[..., 3] = digit  # opaque where the digit is
    path = _save(Image.fromarray(rgba, "RGBA"), tmp_path / "rgba.png")
    converted = read_digit(path)
    np.testing.assert_allclose(
        converted.astype(int), mnist_digit(digit / 255.0).astype(int), atol=3
    )


def test_a_transparent_palette_png(tmp_path, digits):
    digit = digits[90]
    image = Image.fromarray(255 - digit).convert("P")
    image.info["transparency"] = int(np.asarray(image)[0, 0])  # the paper's colour
    path = _save(
        image, tmp_path / "palette.png", transparency=image.info["transparency"]
    )
    with Image.open(path) as reread:
        assert reread.mode == "P" and "transparency" in reread.info
        grey = to_grey(reread)
    assert grey.shape == (28, 28)
    np.testing.assert_allclose(
        read_digit(path).astype(int), mnist_digit(digit / 255.0).astype(int), atol=3
    )


# --- images without a digit, files that are not images -----------------------------


@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_a_blank_image_has_no_digit(level):
    with pytest.raises(ImageError, match=r"^no digit found \(blank image\)$"):
        mnist_digit(np.full((64, 48), level))


def test_paper_grain_alone_is_no_digit():
    noise = np.random.default_rng(0).normal(0.85, 0.01, (200, 150))
    with pytest.raises(ImageError, match=BLANK.replace("(", r"\(").replace(")", r"\)")):
        mnist_digit(noise)


def test_files_that_are_not_images_name_their_reason(tmp_path, digits):
    empty = tmp_path / "empty.png"
    empty.touch()
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture\n")
    whole = _save(Image.fromarray(digits[3]), tmp_path / "whole.png")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(whole.read_bytes()[:60])
    reasons = {}
    for path in (empty, text, truncated):
        with pytest.raises(ImageError) as error:
            read_grey(path)
        reasons[path.name] = str(error.value)
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["notes.jpg"].startswith("not an image (14 bytes")
    assert reasons["truncated.png"].startswith("unreadable image (")
