"""Photos and scans of handwritten digits turned into MNIST-like 28x28 images.

MNIST's digits were made from binary NIST scans: each digit was scaled, with
anti-aliasing, so that its larger side fits a 20x20 box (aspect ratio kept),
then placed in a 28x28 field with its centre of mass at the field's centre.
:func:`mnist_digit` does the same to any grey image:

1. polarity: a white digit on black, as in MNIST; an image whose border (the
   background, where a centred digit is not) is mostly light is inverted;
2. background: the border's median level becomes 0, its noise (three robust
   standard deviations) is cut off, and the strongest ink becomes 255, so
   grey paper and faint pencil work too; nothing left: a blank image;
3. an image much larger than the box (its digit at least 40 px) is first made
   binary at half the strongest ink, like the NIST scans, so that the blur of
   a photo or of an enlarged image does not thicken the strokes or the box;
4. crop to the digit's bounding box, scale so that its larger side is 20 px
   (area averaging when shrinking, Lanczos when enlarging), and paste it into
   28x28 with its centre of mass on pixel (14, 14), where MNIST has it (a
   whole-pixel shift, so an MNIST digit comes back unchanged).

:func:`read_grey` reads any image Pillow opens (PNG, JPEG and more; palette,
16-bit, transparent, colour) as grey values in 0..1.

Pillow and NumPy only: no Kedro, no MLflow.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: MNIST's field, the box its digits are scaled into, and where their centre of
#: mass lies (row and column, pixel-index coordinates: measured on MNIST).
FIELD, BOX, CENTRE = 28, 20, 14.0
#: The least contrast (0..1) between the strongest ink and the background that
#: counts as a digit.
MIN_CONTRAST = 0.1
#: Digits this many times the box or larger are made binary first (step 3).
BINARY_FROM = 2
#: On a noisy background, ink fainter than this (0..1) is not part of the box.
NOISY_EDGE = 0.2
BLANK = "no digit found (blank image)"


class ImageError(ValueError):
    """An image cannot be used; the message is the reason (not the file name)."""


def read_grey(path: Path) -> np.ndarray:
    """The image file at ``path`` as (H, W) float64 grey values in 0..1.

    Raises:
        ImageError: an empty file, not an image, unreadable, truncated or too
            large (Pillow's decompression-bomb limit).
    """
    try:
        size = path.stat().st_size
        if size == 0:
            raise ImageError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return to_grey(ImageOps.exif_transpose(image))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(
            f"not an image ({size} bytes, no format Pillow reads)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image too large ({exc})") from None
    except PermissionError as exc:
        raise ImageError(f"cannot read the file ({exc.strerror})") from None
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise ImageError(f"unreadable image ({exc})") from None


def to_grey(image: Image.Image) -> np.ndarray:
    """A Pillow image of any mode as (H, W) float64 grey values in 0..1.

    16-bit images keep their precision, palette images are expanded, colour
    becomes luma. Transparent pixels take the background that sets the ink
    apart: light behind dark ink, dark behind light ink.
    """
    mode = image.mode
    if mode in ("P", "PA") or (
        mode in ("1", "L", "RGB") and "transparency" in image.info
    ):
        image = image.convert("RGBA")
    elif mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = values.max(initial=0.0)
        full = 65535.0 if mode.startswith("I;16") or top > 255 else 255.0
        return np.clip(values / (1.0 if top <= 1 else full), 0.0, 1.0)
    grey = _luma(image)
    if "A" not in image.mode:
        return grey
    alpha = np.asarray(image.getchannel("A"), dtype=np.float64) / 255.0
    seen = alpha > 0.5
    ink_is_dark = bool(seen.any()) and np.median(grey[seen]) < 0.5
    return alpha * grey + (1.0 - alpha) * (1.0 if ink_is_dark else 0.0)


def _luma(image: Image.Image) -> np.ndarray:
    """Pillow's own conversion to grey (ITU-R 601-2 luma for colour), in 0..1."""
    try:
        grey = image.convert("L")
    except ValueError:  # modes Pillow converts to RGB only (HSV, LAB)
        grey = image.convert("RGB").convert("L")
    return np.asarray(grey, dtype=np.float64) / 255.0


def mnist_digit(grey: np.ndarray) -> np.ndarray:
    """A grey image of one digit, of any size and polarity, as MNIST has digits.

    Args:
        grey: (H, W) grey values in 0..1.

    Returns:
        (28, 28) uint8: a white digit on black, its larger side 20 px, its
        centre of mass on pixel (14, 14).

    Raises:
        ImageError: "no digit found (blank image)" when nothing stands out
            from the background.
    """
    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or grey.size == 0:
        raise ImageError(f"expected a 2D grey image, got shape {grey.shape}")
    ink, noisy = _ink(grey)
    solid = ink > 0.5
    if _extent(solid) >= BINARY_FROM * BOX:
        ink = solid.astype(np.float64)
    rows, cols = _span(ink > (NOISY_EDGE if noisy else 0.0))
    return _centre(_fit_box(ink[rows, cols]))


def read_digit(path: Path) -> np.ndarray:
    """The image file at ``path`` as an MNIST digit (see :func:`mnist_digit`)."""
    return mnist_digit(read_grey(path))


def _ink(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """The digit as ink in 0..1 on a background of exactly 0; whether the
    background was noisy."""
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    if np.median(border) > 0.5:
        grey, border = 1.0 - grey, 1.0 - border
    background = np.median(border)
    noise = 3 * 1.4826 * np.median(np.abs(border - background))
    ink = grey - background - noise
    peak = ink.max()
    if peak < MIN_CONTRAST:
        raise ImageError(BLANK)
    return np.clip(ink / peak, 0.0, 1.0), bool(noise > 0)


def _span(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the bounding box of ``mask`` (not all False)."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _extent(mask: np.ndarray) -> int:
    """The larger side of the bounding box of ``mask`` (0 when all False)."""
    if not mask.any():
        return 0
    rows, cols = _span(mask)
    return max(rows.stop - rows.start, cols.stop - cols.start)


def _fit_box(patch: np.ndarray) -> np.ndarray:
    """``patch`` scaled, aspect ratio kept, so that its larger side is ``BOX`` px."""
    height, width = patch.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return patch
    # area averaging when shrinking (the anti-aliasing of a scanner's pixels)
    how = Image.Resampling.BOX if scale < 1 else Image.Resampling.LANCZOS
    resized = Image.fromarray(patch.astype(np.float32)).resize(size, how)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def _centre(patch: np.ndarray) -> np.ndarray:
    """``patch`` in the ``FIELD`` x ``FIELD`` field, centre of mass on ``CENTRE``.

    The shift is a whole number of pixels, limited so that no ink falls out.
    """
    height, width = patch.shape
    total = patch.sum()
    if total <= 0:
        raise ImageError(BLANK)
    row = patch.sum(axis=1) @ np.arange(height) / total
    col = patch.sum(axis=0) @ np.arange(width) / total
    top = min(max(math.floor(CENTRE - row + 0.5), 0), FIELD - height)
    left = min(max(math.floor(CENTRE - col + 0.5), 0), FIELD - width)
    field = np.zeros((FIELD, FIELD))
    field[top : top + height, left : left + width] = patch
    return np.round(field * 255).astype(np.uint8)
