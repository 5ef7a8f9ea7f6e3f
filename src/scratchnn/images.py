"""Turn a picture of a handwritten digit into an MNIST-style input.

MNIST was made like this (LeCun et al.): each digit was scaled to fit a 20x20 box keeping
its aspect ratio (anti-aliasing gives grey levels), then placed in a 28x28 field so that
its centre of mass lies at the centre, white ink on a black background. A photo or a
drawing has to go through the same steps before a network trained on MNIST can read it:

1. to grey; a transparent background takes the colour opposite to the ink;
2. invert when the paper (the picture's frame) is light;
3. subtract the paper: a smooth surface fitted to the frame, so that light falling unevenly
   across the page is not taken for ink;
4. when the paper is noisy (sensor noise, grain), take a 3x3 median, which keeps strokes;
5. scale the strongest ink to 1 and drop what is fainter than ``NOISE_FLOOR``, within the
   noise, or no brighter than uneven paper (a darker part of the page, a shadow's edge);
6. crop to the ink's bounding box, without stray specks apart from the digit, and scale
   its longer side to 20 pixels;
7. paste into 28x28 with the centre of mass at pixel (14, 14), as in MNIST.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

__all__ = ["PICTURE_SIZE", "load_digit", "load_picture", "read_digit", "save_seen", "to_mnist"]

SIZE = 28
BOX = 20
#: Ink fainter than this (on the 0-1 scale of the strongest ink) counts as background.
NOISE_FLOOR = 0.15
#: Pixel noise (standard deviation, on the 0-1 scale) above which a picture is denoised.
NOISY = 0.02
#: Pictures smaller than this many pixels a side are too small for statistics: their paper
#: is taken as flat and noiseless.
SMALL = 16
#: Larger pictures are shrunk (averaging) to below this many pixels before their median.
MEDIAN_PIXELS = 4_000_000
#: Specks apart from the digit that hold less than this fraction of the ink are left out.
STRAY_INK = 0.01


#: The course's pictures: 64x64 RGB (cat vs non-cat).
PICTURE_SIZE = 64


def _opened(source, convert):
    """``convert(image)`` of the image in ``source`` (a path, or a binary file such as
    ``io.BytesIO``), its EXIF rotation applied; an image that cannot be read, or is too
    large to decode (Pillow's decompression-bomb limit, which guards memory), is a
    ValueError."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: both mean a
            # picture of more pixels than a photo of a digit needs.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                image = ImageOps.exif_transpose(image)  # phone photos store their rotation
                return convert(image)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise ValueError(f"too large to decode safely ({err}); scale it down first") from err
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"not a readable image ({err})") from err


def _from_file(path: str | os.PathLike, read):
    """``read(path)`` for an image file, its errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    try:
        return read(path)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def read_digit(source) -> np.ndarray:
    """:func:`load_digit` for an image in a binary file (e.g. ``io.BytesIO`` of uploaded
    bytes) or at a path; its errors do not name it."""
    return to_mnist(_opened(source, _grey))


def load_digit(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (PNG, JPG, ...; any size, colour or grey) as a 28x28 MNIST digit.

    Returns float32 values in [0, 1], white digit on black, shape (28, 28).
    """
    return _from_file(path, read_digit)


def load_picture(path: str | os.PathLike, size: int = PICTURE_SIZE) -> np.ndarray:
    """A photo as the course reads its own (cat vs non-cat): RGB, resized to size x size
    (aspect ratio not kept), float32 in [0, 1], shape (size, size, 3)."""
    def rgb(image: Image.Image) -> np.ndarray:
        small = image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        return np.asarray(small, dtype=np.float32) / 255

    return _from_file(path, lambda p: _opened(p, rgb))


def save_seen(picture: np.ndarray, path: str | os.PathLike, scale: int = 8) -> Path:
    """Save what a model sees of the image file ``path`` (a (28, 28) digit or a (64, 64, 3)
    picture in [0, 1]) beside it, as ``NAME.seen.png``, enlarged ``scale`` times without
    smoothing; returns where. (Beside it, unless that folder takes no files: then in the
    current folder.)"""
    pixels = np.clip(np.asarray(picture) * 255 + 0.5, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels).resize(
        (pixels.shape[1] * scale, pixels.shape[0] * scale), Image.Resampling.NEAREST)
    target = Path(path).with_name(f"{Path(path).stem}.seen.png")
    try:
        image.save(target)
    except OSError:
        target = Path(target.name)
        image.save(target)
    return target


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
    if image.mode.startswith(("I", "F")):  # 16/32-bit grey: convert("L") would clip it
        grey = np.asarray(image, dtype=np.float64)
        return grey / max(float(grey.max()), 1e-12)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def to_mnist(image) -> np.ndarray:
    """A grey (H, W) or colour (H, W, 3) image array to a 28x28 float32 MNIST digit.

    Any value range works: the contrast is stretched first.
    """
    g = _stretched_grey(image)  # step 1, and the contrast stretched to [0, 1]
    ink = _ink(g)  # steps 2 to 5
    # Noise that survived scatters over every line: then the outermost ink goes too.
    trim = STRAY_INK / 2 if ink.noisy else 0.0
    rows, cols = _extent(ink.g.sum(axis=1), trim), _extent(ink.g.sum(axis=0), trim)
    digit = _scaled_to_box(ink.g[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1])  # step 6
    return _centred(digit)  # step 7


def _stretched_grey(image) -> np.ndarray:
    """The image in grey, stretched to [0, 1] (a new array)."""
    g = np.asarray(image, dtype=np.float64)
    if g.ndim == 3 and g.shape[2] in (3, 4):
        g = g[..., :3] @ np.array([0.299, 0.587, 0.114])
    if g.ndim != 2:
        raise ValueError(f"expected a grey (H, W) or colour (H, W, 3) image, got shape {g.shape}")
    low, high = float(g.min()), float(g.max())
    if high - low < 1e-6:
        raise ValueError("the image is blank (one uniform colour): no digit to read")
    # One new array, then in place: a photo's pixels take 100 MB per copy.
    g = np.subtract(g, low)
    g *= 1.0 / (high - low)
    return g


class _Ink(NamedTuple):
    g: np.ndarray  # the ink in [0, 1] on a black background (0)
    noisy: bool  # the paper was noisy enough for a median filter


def _ink(g: np.ndarray) -> _Ink:
    """Light ink on black, the paper subtracted, scaled so that the strongest ink is 1 and
    what is within the noise or no brighter than uneven paper is 0 (``g`` is changed)."""
    # Paper covers most of the picture's frame, even where the digit touches it or light
    # darkens the corners: light paper means dark ink, and MNIST is light ink on black.
    border = _border(g.shape)
    if np.median(g[border]) > 0.5:
        np.subtract(1.0, g, out=g)
    paper_top, left_out = _subtract_paper(g, border)
    noise = _noise(g) if min(g.shape) >= SMALL else 0.0
    # Uneven paper (a shadow's edge, a darker part of the page, which no smooth surface
    # follows) must not pass for ink: ink must rise a margin above it. Frame pixels left
    # out of the fit that are much fainter than the ink are such paper, not ink.
    uneven = 1.5 * paper_top if paper_top > 8 * noise else 0.0
    if 0 < left_out < 0.6 * float(g.max()):
        uneven = max(uneven, 1.2 * left_out)
    noisy = noise > NOISY
    if noisy:  # speckle: a median keeps strokes (only 1-pixel lines would go)
        g = _median3(g)
        noise = _noise(g)
    ink = float(g.max())
    if ink <= max(4 * noise, uneven) or ink < 1e-6:
        raise ValueError("no ink found: the digit is too faint against its background")
    g = np.clip(g / ink, 0.0, 1.0)
    g[g < max(NOISE_FLOOR, 4 * noise / ink, uneven / ink)] = 0.0
    return _Ink(g, noisy)


def _scaled_to_box(digit: np.ndarray) -> np.ndarray:
    """The cropped digit with its longer side scaled to ``BOX`` pixels, peak 1."""
    scale = BOX / max(digit.shape)
    h = max(1, round(digit.shape[0] * scale))
    w = max(1, round(digit.shape[1] * scale))
    small = Image.fromarray(digit.astype(np.float32)).resize((w, h), Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(small, dtype=np.float64), 0.0, 1.0)
    if digit.max() > 0:
        digit /= digit.max()
    return digit


def _centred(digit: np.ndarray) -> np.ndarray:
    """``digit`` pasted into a SIZE x SIZE float32 field, its centre of mass at the centre."""
    h, w = digit.shape
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


def _sample(a: np.ndarray, most: int = 250_000) -> slice:
    """The step, along rows and columns alike, that leaves at most about ``most`` pixels of
    ``a``: statistics of a photo do not need all its millions of pixels."""
    return slice(None, None, max(1, math.ceil(math.sqrt(a.size / most))))


def _noise(g: np.ndarray) -> float:
    """The standard deviation of the paper's noise, once the paper is about 0 and ink above.

    Two estimates, each misled by something else, and the smaller is taken. Paper is most
    of a picture and ink its upper tail, so the lower half of the pixels is paper: for
    Gaussian noise its quartile lies 0.6745 standard deviations below its median (wrong
    when ink fills the picture). Noise changes every pixel from its neighbour, strokes and
    light change smoothly: the median absolute difference of neighbours is 0.6745 * sqrt(2)
    standard deviations (wrong when a tiny picture is all stroke edges).
    """
    every = _sample(g)
    median, quartile = np.percentile(g[every, every], [50, 25])
    spread = float(median - quartile) / 0.6745
    # Neighbours along the rows of every step-th row, and down every step-th column.
    diffs = [np.abs(np.diff(part, axis=a)).ravel()
             for a, part in ((0, g[:, every]), (1, g[every, :])) if g.shape[a] > 1]
    if diffs:
        spread = min(spread, float(np.median(np.concatenate(diffs))) / (0.6745 * np.sqrt(2)))
    return spread


def _median3(g: np.ndarray) -> np.ndarray:
    """3x3 median; a picture of more than MEDIAN_PIXELS is first shrunk (by averaging,
    which also halves its noise) to stay under it: a photo's median would take seconds."""
    image = Image.fromarray(g.astype(np.float32))
    factor = math.ceil(math.sqrt(g.size / MEDIAN_PIXELS))
    if factor > 1:
        image = image.reduce(factor)
    return np.asarray(image.filter(ImageFilter.MedianFilter(3)), dtype=np.float64)


def _border(shape: tuple[int, int]) -> np.ndarray:
    """A mask of the picture's outer frame (a 20th of its shorter side, at least 1 pixel)."""
    frame = max(1, min(shape) // 20)
    mask = np.zeros(shape, dtype=bool)
    mask[:frame], mask[-frame:], mask[:, :frame], mask[:, -frame:] = True, True, True, True
    return mask


def _subtract_paper(g: np.ndarray, border: np.ndarray) -> tuple[float, float]:
    """Subtract the paper's brightness from ``g`` (in place; ink is bright by now).

    Returns how far the frame's paper still rises above it at most, and how bright the
    frame's pixels left out of the fit are (their 90th percentile; 0 when none are).

    The frame is mostly paper, so its median is. In a picture of at least SMALL pixels a
    side, a quadratic in y and x is fitted by least squares to the frame's paper (first the
    half below the median, then every pixel not far above the fit): light that falls
    unevenly across the page, or darkens its corners, is followed and subtracted. Ink that
    touches the edge is left out of the fit, and so is a darker part of the page, which no
    smooth surface follows: the caller tells the two apart by their brightness.
    """
    values = g[border]
    level = float(np.median(values))
    if min(g.shape) < SMALL:
        g -= level
        return 0.0, 0.0
    y = np.linspace(-1.0, 1.0, g.shape[0])
    x = np.linspace(-1.0, 1.0, g.shape[1])
    rows, cols = np.nonzero(border)
    step = max(1, len(rows) // 20_000)  # a photo's frame has millions of pixels
    rows, cols, values = rows[::step], cols[::step], values[::step]
    by, bx = y[rows], x[cols]
    design = np.stack([np.ones_like(by), by, bx, by * by, bx * by, bx * bx], axis=1)
    paper = values <= level
    for _ in range(3):
        coef = np.linalg.lstsq(design[paper], values[paper], rcond=None)[0]
        residual = values - design @ coef
        spread = 1.4826 * float(np.median(np.abs(residual[paper])))
        keep = residual <= max(3 * spread, 0.02)
        if np.array_equal(keep, paper):
            break  # settled: coef is the fit to this paper
        paper = keep
    else:
        coef = np.linalg.lstsq(design[paper], values[paper], rcond=None)[0]
        residual = values - design @ coef
    a, b, c, d, e, f = coef
    # By rows, so that no full-size temporary is made: a photo has millions of pixels.
    g -= (a + b * y + d * y * y)[:, None]
    g -= (c * x + f * x * x)[None, :]
    for top in range(0, g.shape[0], 256):
        g[top : top + 256] -= np.outer(e * y[top : top + 256], x)
    above = residual[~paper]  # ink touching the edge, or a darker part of the page
    return (max(0.0, float(residual[paper].max())),
            float(np.percentile(above, 90)) if len(above) else 0.0)


def _extent(mass: np.ndarray, trim: float = 0.0) -> tuple[int, int]:
    """(first, last) index of the ink along one axis, without stray specks at either end.

    An outermost run of inked lines, cut off from the rest by empty lines, that holds less
    than STRAY_INK of the ink is a speck; ``trim`` (a fraction of the ink) then also leaves
    out the outermost ink on each side, for noise scattered over every line.
    """
    inked = np.flatnonzero(mass > 0)
    if len(inked) == 0:
        raise ValueError("no ink found: the digit is too faint against its background")
    # Runs of consecutive inked lines: (start, stop) index pairs into `inked`.
    breaks = np.flatnonzero(np.diff(inked) > 1) + 1
    runs = list(zip(np.r_[0, breaks], np.r_[breaks, len(inked)], strict=True))
    total = mass.sum()
    share = [mass[inked[a:b]].sum() / total for a, b in runs]
    first, last = 0, len(runs) - 1
    while first < last and share[first] < STRAY_INK:
        first += 1
    while last > first and share[last] < STRAY_INK:
        last -= 1
    low, high = int(inked[runs[first][0]]), int(inked[runs[last][1] - 1])
    if trim:
        cum = np.cumsum(mass[low : high + 1]) / mass[low : high + 1].sum()
        low, high = (low + int(np.searchsorted(cum, trim, side="right")),
                     low + int(np.searchsorted(cum, 1.0 - trim, side="left")))
        high = max(low, min(high, len(mass) - 1))
    return low, high


def _paste(canvas: np.ndarray, patch: np.ndarray, top: int, left: int) -> None:
    """canvas[top:top+h, left:left+w] = patch, clipped to the canvas."""
    h, w = patch.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, canvas.shape[0]), min(left + w, canvas.shape[1])
    if y0 < y1 and x0 < x1:
        canvas[y0:y1, x0:x1] = patch[y0 - top : y1 - top, x0 - left : x1 - left]
