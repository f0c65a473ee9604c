"""Decoding encoded images: formats, EXIF orientation, alpha, and refusing bombs from the header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rare.images import ImageDecodeError, ImageTooLargeError, decode_image, list_images, probe, read_image
from tests.images import png, png_bomb, variants, word_bgr


def test_exif_orientation_is_applied() -> None:
    images = variants()
    upright = decode_image(images["plain.jpg"]).astype(np.int16)
    rotated = decode_image(images["exif_rotated.jpg"]).astype(np.int16)
    assert rotated.shape == upright.shape
    assert np.abs(rotated - upright).mean() < 4  # the same picture up to JPEG noise, not a turned one


@pytest.mark.parametrize(
    "name",
    ["gray.png", "rgba.png", "16bit.png", "gray16.png", "palette.gif", "bmp.bmp", "webp.webp", "tiff.tiff", "cmyk.jpg"],
)
def test_formats_decode_to_bgr8(name: str) -> None:
    image = decode_image(variants()[name])
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[:2] == word_bgr().shape[:2]


def test_lossless_formats_decode_to_the_same_pixels() -> None:
    reference = word_bgr()
    for name in ("rgba.png", "16bit.png", "bmp.bmp", "webp.webp", "tiff.tiff"):
        np.testing.assert_array_equal(decode_image(variants()[name]), reference, err_msg=name)


def test_bomb_is_refused_before_decoding() -> None:
    header = probe(png_bomb())
    assert header is not None and (header.width, header.height) == (100_000, 100_000)
    with pytest.raises(ImageTooLargeError, match="declares 100000x100000 pixels"):
        decode_image(png_bomb())
    with pytest.raises(ImageTooLargeError, match="limit of 100"):
        decode_image(png(word_bgr()), max_pixels=100)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"GIF89a-no", "not a supported image format"),
        (png(word_bgr())[:200], "truncated or corrupt"),
    ],
)
def test_undecodable(data: bytes, message: str) -> None:
    with pytest.raises(ImageDecodeError, match=message):
        decode_image(data)


def test_read_image_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "wört.png"
    path.write_bytes(b"nope")
    with pytest.raises(ImageDecodeError, match="wört.png: cannot decode"):
        read_image(path)
    (tmp_path / "a.png").write_bytes(png(word_bgr()))
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "wört.png"]
    with pytest.raises(ImageDecodeError, match="no such file or folder"):
        list_images(tmp_path / "missing")
