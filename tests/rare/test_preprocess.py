import numpy as np
import pytest

from rare.preprocess import ImageError, preprocess, preprocess_batch, resized_width, to_bgr8
from tests.conftest import FIXTURES


def test_equal_to_paddleocr_on_fixture_words() -> None:
    raw = np.load(FIXTURES / "inputs_words_raw_bgr.npy")
    reference = np.load(FIXTURES / "inputs.npy")[4:6]
    out = preprocess_batch(list(raw))
    assert out.dtype == np.float32 and out.shape == (2, 3, 32, 100)
    np.testing.assert_array_equal(out, reference)


def test_width_rule_and_padding() -> None:
    assert resized_width(32, 100) == 100 and resized_width(64, 100) == 50 and resized_width(10, 1000) == 100
    assert resized_width(33, 10) == 10  # ceil(32 * 10 / 33) = ceil(9.7)
    assert resized_width(10_000, 1) == 1
    image = np.full((64, 100, 3), 255, dtype=np.uint8)
    out = preprocess(image)
    assert (out[:, :, :50] == 1.0).all() and (out[:, :, 50:] == 0.0).all()


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((20, 60), dtype=np.uint8),
        np.zeros((20, 60, 1), dtype=np.uint8),
        np.zeros((20, 60, 4), dtype=np.uint8),
        np.zeros((20, 60, 3), dtype=np.uint16),
        np.zeros((1, 1, 3), dtype=np.uint8),
        np.zeros((3000, 12000, 3), dtype=np.uint8),
        np.zeros((5000, 2), dtype=np.bool_),
    ],
    ids=["gray", "gray1", "bgra", "uint16", "1x1", "large", "bool"],
)
def test_supported_inputs(image: np.ndarray) -> None:
    out = preprocess(image)
    assert out.shape == (3, 32, 100) and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_gray_and_16bit_equal_their_8bit_bgr() -> None:
    gray = np.random.default_rng(0).integers(0, 256, (30, 70), dtype=np.uint8)
    np.testing.assert_array_equal(preprocess(gray), preprocess(np.stack([gray] * 3, axis=2)))
    wide = gray.astype(np.uint16) * 257
    np.testing.assert_array_equal(preprocess(wide), preprocess(gray))


def test_transparent_background_reads_as_white() -> None:
    bgra = np.zeros((10, 10, 4), dtype=np.uint8)  # black, fully transparent
    assert (to_bgr8(bgra) == 255).all()
    bgra[..., 3] = 255
    assert (to_bgr8(bgra) == 0).all()


def test_batch_rows_equal_single_crops() -> None:
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((32, 100), (17, 203), (80, 40), (5, 5))]
    batch = preprocess_batch(crops)
    for row, crop in zip(batch, crops, strict=True):
        np.testing.assert_array_equal(row, preprocess(crop))
    assert preprocess_batch([]).shape == (0, 3, 32, 100)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 10, 3), dtype=np.uint8), "empty"),
        (np.zeros((4, 4, 2), dtype=np.uint8), "expected"),
        (np.zeros((2, 2, 2, 3), dtype=np.uint8), "expected"),
        (np.zeros((4, 4, 3), dtype=np.float32), "unsupported pixel type float32"),
        ("not an array", "expected a numpy array"),
    ],
)
def test_bad_inputs_are_clear_errors(image: object, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        preprocess(image)  # type: ignore[arg-type]


def test_area_resize_shrinks_large_crops_without_aliasing() -> None:
    """Thin vertical lines 1 px wide every 4 px, shrunk 4x: area keeps their mean grey, bilinear mostly misses them."""
    stripes = np.full((128, 400, 3), 255, dtype=np.uint8)
    stripes[:, 1::4] = 0
    area = preprocess(stripes, resize="area")
    bilinear = preprocess(stripes, resize="bilinear")
    assert np.abs(area[:, :, 5:95] - 0.5).max() < 0.02  # every output pixel: 3/4 white -> (0.75 - 0.5) / 0.5
    assert np.abs(bilinear[:, :, 5:95] - 0.5).max() > 0.4
    small = np.random.default_rng(0).integers(0, 256, (20, 50, 3), dtype=np.uint8)  # enlarged: identical
    np.testing.assert_array_equal(preprocess(small, resize="area"), preprocess(small))
    with pytest.raises(ImageError, match="unknown resize 'cubic'"):
        preprocess_batch([small], resize="cubic")
