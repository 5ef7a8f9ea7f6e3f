"""Turn a picture of a handwritten digit into an MNIST-style input.

MNIST was made like this (LeCun et al.): each digit was scaled to fit a 20x20 box keeping
its aspect ratio (anti-aliasing gives grey levels), then placed in a 28x28 field so that
its centre of mass lies at the centre, white ink on a black background. A photo or a
drawing has to go through the same steps before a network trained on MNIST can read it:

1. to grey; a transparent background takes the colour opposite to the ink;
2. shrink a large picture to at most 512 pixels a side and take a 3x3 median, which removes
   speckle (sensor noise, paper grain) and keeps strokes;
3. invert when the background (judged by the border of the picture) is light;
4. subtract the background: a plane fitted to the border, so that light falling across
   the page is not taken for ink; scale the strongest ink to 1 and drop what is within
   the noise of the border or fainter than ``NOISE_FLOOR``;
5. crop to the ink's bounding box, leaving out stray specks (the outermost 0.5% of the ink
   on each side), and scale its longer side to 20 pixels;
6. paste into 28x28 with the centre of mass at pixel (14, 14), as in MNIST.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

__all__ = ["load_digit", "to_mnist"]

SIZE = 28
BOX = 20
#: Ink fainter than this (on the 0-1 scale of the strongest ink) counts as background.
NOISE_FLOOR = 0.15
#: Larger pictures are shrunk to this many pixels a side before they are cleaned.
WORKING_SIZE = 512
#: Fraction of the ink mass that may lie outside the bounding box on each side (specks).
STRAY_INK = 0.005


def load_digit(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (PNG, JPG, ...; any size, colour or grey) as a 28x28 MNIST digit.

    Returns float32 values in [0, 1], white digit on black, shape (28, 28).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # phone photos store their rotation apart
            grey = _grey(image)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err
    try:
        return to_mnist(grey)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def _grey(image: Image.Image) -> np.ndarray:
    """Luminance in [0, 1]; transparent pixels get the colour that contrasts with the ink."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
        lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        alpha = rgba[..., 3]
        opaque = alpha > 0.5
        if opaque.any() and not opaque.all():
            background = 1.0 if lum[opaque].mean() < 0.5 else 0.0
            return lum * alpha + background * (1 - alpha)
        return lum
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def to_mnist(image) -> np.ndarray:
    """A grey (H, W) or colour (H, W, 3) image array to a 28x28 float32 MNIST digit.

    Any value range works: the contrast is stretched first.
    """
    g = np.asarray(image, dtype=np.float64)
    if g.ndim == 3 and g.shape[2] in (3, 4):
        g = g[..., :3] @ np.array([0.299, 0.587, 0.114])
    if g.ndim != 2:
        raise ValueError(f"expected a grey (H, W) or colour (H, W, 3) image, got shape {g.shape}")
    low, high = float(g.min()), float(g.max())
    if high - low < 1e-6:
        raise ValueError("the image is blank (one uniform colour): no digit to read")
    g = _denoise((g - low) / (high - low))

    border_mask = _border(g.shape)
    if g[border_mask].mean() > 0.5:  # dark ink on light paper: MNIST is light ink on black
        g = 1.0 - g
    g = g - _background(g, border_mask)
    residual = g[border_mask]
    noise = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))  # robust std
    ink = float(g.max())
    if ink <= 4 * noise or ink < 1e-6:
        raise ValueError("no ink found: the digit is too faint against its background")
    g = np.clip(g / ink, 0.0, 1.0)
    g[g < max(NOISE_FLOOR, 4 * noise / ink)] = 0.0

    rows, cols = _extent(g.sum(axis=1)), _extent(g.sum(axis=0))
    digit = g[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1]

    scale = BOX / max(digit.shape)
    h = max(1, round(digit.shape[0] * scale))
    w = max(1, round(digit.shape[1] * scale))
    small = Image.fromarray(digit.astype(np.float32)).resize((w, h), Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(small, dtype=np.float64), 0.0, 1.0)
    if digit.max() > 0:
        digit /= digit.max()

    # Where the centre of mass lands if the box is centred; then shift it onto (14, 14).
    top, left = (SIZE - h) // 2, (SIZE - w) // 2
    mass = digit.sum()
    cy = top + (digit.sum(axis=1) @ np.arange(h)) / mass
    cx = left + (digit.sum(axis=0) @ np.arange(w)) / mass
    top += round(SIZE / 2 - cy)
    left += round(SIZE / 2 - cx)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    _paste(out, digit, top, left)
    return out


def _denoise(g: np.ndarray) -> np.ndarray:
    """A picture larger than WORKING_SIZE shrunk to it (averaging), then a 3x3 median."""
    image = Image.fromarray(g.astype(np.float32))
    factor = max(g.shape) / WORKING_SIZE
    if factor > 1:
        size = (max(1, round(g.shape[1] / factor)), max(1, round(g.shape[0] / factor)))
        image = image.resize(size, Image.Resampling.BOX)
    if min(image.size) >= 3:
        image = image.filter(ImageFilter.MedianFilter(3))
    return np.asarray(image, dtype=np.float64)


def _border(shape: tuple[int, int]) -> np.ndarray:
    """A mask of the picture's outer frame (a 20th of its shorter side, at least 1 pixel)."""
    frame = max(1, min(shape) // 20)
    mask = np.zeros(shape, dtype=bool)
    mask[:frame], mask[-frame:], mask[:, :frame], mask[:, -frame:] = True, True, True, True
    return mask


def _background(g: np.ndarray, border: np.ndarray) -> np.ndarray:
    """The plane a + b y + c x that best fits the border (least squares), over the picture.

    The digit is inside the frame, so the border is paper: light that falls unevenly
    across it is a gradient, which the plane follows and the subtraction removes.
    """
    y, x = np.indices(g.shape, dtype=np.float64)
    y, x = y / g.shape[0], x / g.shape[1]
    design = np.stack([np.ones(border.sum()), y[border], x[border]], axis=1)
    coef = np.linalg.lstsq(design, g[border], rcond=None)[0]
    return coef[0] + coef[1] * y + coef[2] * x


def _extent(mass: np.ndarray) -> tuple[int, int]:
    """(first, last) index of the ink along one axis, leaving out STRAY_INK on each side."""
    cum = np.cumsum(mass) / mass.sum()
    first = int(np.searchsorted(cum, STRAY_INK, side="right"))
    last = int(np.searchsorted(cum, 1.0 - STRAY_INK, side="left"))
    return first, max(first, min(last, len(mass) - 1))


def _paste(canvas: np.ndarray, patch: np.ndarray, top: int, left: int) -> None:
    """canvas[top:top+h, left:left+w] = patch, clipped to the canvas."""
    h, w = patch.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, canvas.shape[0]), min(left + w, canvas.shape[1])
    if y0 < y1 and x0 < x1:
        canvas[y0:y1, x0:x1] = patch[y0 - top : y1 - top, x0 - left : x1 - left]
