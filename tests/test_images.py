"""Pictures of digits to MNIST form: grey, 20-pixel box, centred by mass, white on black."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scratchnn.data import load_mnist
from scratchnn.images import load_digit, to_mnist


def _draw_seven(scale=1.0, ink="black", paper="white", mode="RGB"):
    """A '7' drawn with a thick pen, off-centre (top-left) on a 300x400 canvas times scale."""
    image = Image.new(mode, (round(300 * scale), round(400 * scale)), paper)
    draw = ImageDraw.Draw(image)
    corners = [(40 * scale, 60 * scale), (170 * scale, 60 * scale), (90 * scale, 260 * scale)]
    draw.line(corners, fill=ink, width=max(1, round(22 * scale)), joint="curve")
    return image


def _centre_of_mass(a):
    r = np.arange(a.shape[0])
    return (a.sum(axis=1) @ r) / a.sum(), (a.sum(axis=0) @ r) / a.sum()


def _check_mnist_like(d):
    assert d.shape == (28, 28) and d.dtype == np.float32
    assert d.min() == 0.0 and d.max() == pytest.approx(1.0)
    cy, cx = _centre_of_mass(d)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # MNIST's centre (its mean: 14.0)
    rows = np.flatnonzero(d.any(axis=1))
    cols = np.flatnonzero(d.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21)  # LANCZOS may bleed 1
    assert d[:, :3].max() == 0 and d[:, -3:].max() == 0  # black margins


def test_dark_ink_on_white_paper(tmp_path):
    _draw_seven().save(tmp_path / "seven.png")
    d = load_digit(tmp_path / "seven.png")
    _check_mnist_like(d)
    # A 7 is tall: its height fills the 20-pixel box, its bar is at the top.
    rows = np.flatnonzero(d.any(axis=1))
    assert rows[-1] - rows[0] + 1 >= 20
    assert d[rows[0] : rows[0] + 3].sum() > d[rows[-1] - 2 : rows[-1] + 1].sum()


def test_light_ink_on_dark_and_colour_jpeg_agree(tmp_path):
    _draw_seven().save(tmp_path / "a.png")
    _draw_seven(ink=(250, 240, 90), paper=(20, 30, 60)).save(tmp_path / "b.jpg", quality=90)
    a = load_digit(tmp_path / "a.png")
    b = load_digit(tmp_path / "b.jpg")
    _check_mnist_like(b)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def test_transparent_background(tmp_path):
    for ink in ("black", "white"):
        _draw_seven(mode="RGBA", ink=ink, paper=(0, 0, 0, 0)).save(tmp_path / f"{ink}.png")
        _check_mnist_like(load_digit(tmp_path / f"{ink}.png"))


def test_grey_small_image_is_scaled_up(tmp_path):
    _draw_seven(scale=0.1, mode="L", ink=0, paper=255).save(tmp_path / "tiny.png")
    _check_mnist_like(load_digit(tmp_path / "tiny.png"))


def test_an_mnist_digit_survives_the_round_trip(shared_data):
    _, (xt, _) = load_mnist(data_dir=shared_data, flatten=False)
    correlations = []
    for digit in xt[:50, 0]:
        # Blow it up to a dark-on-light 224x224 picture, off-centre on a larger page.
        big = Image.fromarray((255 * (1 - digit)).astype(np.uint8)).resize(
            (224, 224), Image.Resampling.BILINEAR)
        page = np.full((300, 280), 255, np.uint8)
        page[10:234, 50:274] = np.asarray(big)
        back = to_mnist(page)
        correlations.append(np.corrcoef(back.ravel(), digit.ravel())[0, 1])
    # Most come back almost exactly; thin strokes (ones) lose more to a 1-pixel shift when
    # the centre of mass is rounded, as in MNIST itself.
    assert np.median(correlations) > 0.95
    assert min(correlations) > 0.6


def _similarity(a, b):
    """Correlation of two digits, up to the one-pixel shift that rounding the centre of
    mass may make."""
    return max(np.corrcoef(np.roll(a, (dy, dx), axis=(0, 1)).ravel(), b.ravel())[0, 1]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


@pytest.mark.parametrize("noise, light", [(8, 0), (15, 0), (0, 80), (8, 80)])
def test_noise_and_uneven_light_do_not_decide_the_box(noise, light):
    # A grey page (not white), with sensor noise of `noise` grey levels and light that fades
    # by `light` levels from left to right. Before the denoising and the fitted background,
    # specks stretched the bounding box over the whole page and shrank the 7 to a few pixels.
    clean = to_mnist(np.asarray(_draw_seven(ink=40, paper=170, mode="L"), dtype=np.float64))
    page = np.asarray(_draw_seven(ink=40, paper=170, mode="L"), dtype=np.float64)
    page = page - light * np.linspace(0.0, 1.0, page.shape[1])
    page += np.random.default_rng(0).normal(0.0, noise, page.shape)
    d = to_mnist(np.clip(page, 0, 255))
    _check_mnist_like(d)
    assert _similarity(d, clean) > 0.9


def test_dark_corners_of_a_photo_are_not_ink():
    clean = to_mnist(np.asarray(_draw_seven(mode="L"), dtype=np.float64))
    page = np.asarray(_draw_seven(mode="L"), dtype=np.float64)
    y, x = np.indices(page.shape)
    r2 = ((2 * y / page.shape[0] - 1) ** 2 + (2 * x / page.shape[1] - 1) ** 2) / 2
    d = to_mnist(page * (1 - 0.6 * r2))  # the corners get 60% less light
    _check_mnist_like(d)
    assert _similarity(d, clean) > 0.9


@pytest.mark.parametrize("shade", ["two-tone", "shadow"])
def test_a_darker_part_of_the_page_is_not_ink(shade):
    # A hard edge that no smooth surface follows: the desk beside the page, or a shadow.
    clean = to_mnist(np.asarray(_draw_seven(mode="L"), dtype=np.float64))
    page = np.asarray(_draw_seven(mode="L"), dtype=np.float64)
    y, x = np.indices(page.shape)
    if shade == "two-tone":
        dark = x >= 230
    else:
        dark = x + y > 520
    d = to_mnist(np.where(dark, 0.55 * page, page))
    _check_mnist_like(d)
    assert _similarity(d, clean) > 0.9


def test_sixteen_bit_grey_png(tmp_path):
    page = np.asarray(_draw_seven(mode="L"), dtype=np.float64) / 255
    Image.fromarray((page * 60000 + 2000).astype(np.uint16)).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode.startswith("I")  # 16-bit: convert("L") would clip it to white
    d = load_digit(tmp_path / "deep.png")
    _check_mnist_like(d)
    assert _similarity(d, to_mnist(page)) > 0.95


def test_thin_pen_strokes_and_digits_that_fill_their_picture():
    one = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(one).line([(50, 15), (50, 85)], fill=0, width=1)  # a 1-pixel pen
    d = to_mnist(np.asarray(one, dtype=np.float64))
    rows, cols = np.flatnonzero(d.any(axis=1)), np.flatnonzero(d.any(axis=0))
    assert rows[-1] - rows[0] + 1 >= 20 and cols[-1] - cols[0] + 1 <= 3
    # A 7 drawn edge to edge (a tight crop): its ink lies on the frame, which is
    # still mostly paper.
    crop = Image.new("L", (60, 80), 255)
    ImageDraw.Draw(crop).line([(0, 2), (59, 2), (20, 79)], fill=0, width=6)
    d = to_mnist(np.asarray(crop, dtype=np.float64))
    _check_mnist_like(d)
    rows = np.flatnonzero(d.any(axis=1))
    assert d[rows[0] : rows[0] + 2].sum() > 5  # the 7's bar is there, at the top


@pytest.mark.parametrize("shape", [(1, 2), (2, 2), (3, 3), (9, 1)])
def test_pictures_of_a_few_pixels(shape):
    a = np.zeros(shape)
    a.flat[a.size // 2] = 1.0
    d = to_mnist(a)  # one bright pixel, scaled up to the 20-pixel box
    assert d.max() == pytest.approx(1.0) and (d > 0.5).sum() >= 100


def test_bad_inputs(tmp_path):
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(ValueError, match="blank.png.*blank"):
        load_digit(tmp_path / "blank.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="text.png: not a readable image"):
        load_digit(tmp_path / "text.png")
    with pytest.raises(FileNotFoundError, match="no such image"):
        load_digit(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="grey"):
        to_mnist(np.zeros((2, 3, 4, 5)))


@pytest.mark.parametrize("pixels", [1.5, 3.0])  # Pillow warns above its limit, refuses at 2x
def test_a_picture_too_large_to_decode_is_one_error_naming_the_file(tmp_path, monkeypatch,
                                                                    pixels):
    path = tmp_path / "huge.png"
    Image.new("L", (100, 100), 255).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", int(100 * 100 / pixels))
    with pytest.raises(ValueError, match=r"huge\.png: too large to decode safely"):
        load_digit(path)


def test_load_picture_reads_a_photo_as_the_course_does(tmp_path):
    from scratchnn.images import load_picture

    rgb = np.zeros((128, 64, 3), dtype=np.uint8)
    rgb[:64] = (255, 0, 0)  # top half red, bottom half black
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    picture = load_picture(tmp_path / "photo.png")
    assert picture.shape == (64, 64, 3) and picture.dtype == np.float32
    np.testing.assert_allclose(picture[5, 10], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(picture[60, 10], [0.0, 0.0, 0.0], atol=1e-6)


def test_save_seen_writes_the_picture_beside_the_image(tmp_path):
    from scratchnn.images import save_seen

    digit = np.zeros((28, 28), dtype=np.float32)
    digit[10:18, 12:16] = 1.0
    where = save_seen(digit, tmp_path / "mine.jpg")
    assert where == tmp_path / "mine.seen.png"
    with Image.open(where) as image:
        back = np.asarray(image)[::8, ::8] / 255
    np.testing.assert_array_equal(back, digit)
