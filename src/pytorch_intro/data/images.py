"""Photos and scans of handwritten digits made MNIST-like, as MNIST's own were.

MNIST scaled each binary NIST digit, anti-aliased and aspect ratio kept, to fit
a 20x20 box, then placed it in 28x28 with its centre of mass at the centre.
Pillow and NumPy only.
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
    """Any image file Pillow reads as (H, W) float64 grey values in 0..1.

    Raises:
        ImageError: empty, not an image, unreadable, truncated or too large.
    """
    try:
        if (size := path.stat().st_size) == 0:
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
    # via RGB: Pillow converts some modes (HSV, LAB) to RGB only; then luma
    grey = np.asarray(image.convert("RGB").convert("L"), dtype=np.float64) / 255.0
    if "A" not in image.mode:
        return grey
    alpha = np.asarray(image.getchannel("A"), dtype=np.float64) / 255.0
    seen = alpha > 0.5
    ink_is_dark = bool(seen.any()) and np.median(grey[seen]) < 0.5
    return alpha * grey + (1.0 - alpha) * (1.0 if ink_is_dark else 0.0)


def mnist_digit(grey: np.ndarray) -> np.ndarray:
    """(H, W) grey values in 0..1, one digit of any size and polarity, as (28, 28)
    uint8: white on black, its larger side 20 px, its centre of mass on (14, 14).

    Raises:
        ImageError: ``BLANK`` when nothing stands out from the background.
    """
    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or grey.size == 0:
        raise ImageError(f"expected a 2D grey image, got shape {grey.shape}")
    # the border is background (a centred digit is not there): mostly light, the
    # ink is dark, and MNIST's is white on black
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    if np.median(border) > 0.5:
        grey, border = 1.0 - grey, 1.0 - border
    # grey paper, its grain (3 robust std) and faint pencil: background 0, ink 1
    background = np.median(border)
    noise = 3 * 1.4826 * np.median(np.abs(border - background))
    ink = grey - background - noise
    if (peak := ink.max()) < MIN_CONTRAST:
        raise ImageError(BLANK)
    ink = np.clip(ink / peak, 0.0, 1.0)
    # a large image made binary first, as NIST's scans were: the blur of a photo
    # or of enlarging would thicken the strokes and the box
    solid = ink > 0.5
    rows, cols = _span(solid)
    if max(rows.stop - rows.start, cols.stop - cols.start) >= BINARY_FROM * BOX:
        ink = solid.astype(np.float64)
    patch = ink[_span(ink > (NOISY_EDGE if noise > 0 else 0.0))]
    height, width = patch.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size != (width, height):
        # area averaging when shrinking (the anti-aliasing of a scanner's pixels)
        how = Image.Resampling.BOX if scale < 1 else Image.Resampling.LANCZOS
        patch = Image.fromarray(patch.astype(np.float32)).resize(size, how)
        patch = np.clip(np.asarray(patch, dtype=np.float64), 0.0, 1.0)
    # a whole-pixel shift (an MNIST digit comes back unchanged), no ink cut off
    height, width = patch.shape
    row = patch.sum(axis=1) @ np.arange(height) / patch.sum()
    col = patch.sum(axis=0) @ np.arange(width) / patch.sum()
    top = min(max(math.floor(CENTRE - row + 0.5), 0), FIELD - height)
    left = min(max(math.floor(CENTRE - col + 0.5), 0), FIELD - width)
    field = np.zeros((FIELD, FIELD))
    field[top : top + height, left : left + width] = patch
    return np.round(field * 255).astype(np.uint8)


def read_digit(path: Path) -> np.ndarray:
    """The image file at ``path`` as an MNIST digit (see :func:`mnist_digit`)."""
    return mnist_digit(read_grey(path))


def _span(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the bounding box of ``mask`` (not all False)."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
