"""Decode encoded images (bytes) into BGR uint8 crops, refusing decompression bombs before decoding them.

PaddleOCR reads images with ``cv2.imread`` (BGR, EXIF orientation applied, alpha dropped). We decode the same way,
except that an image with an alpha channel is composited onto white (see :func:`rare.preprocess.to_bgr8`), and the
pixel count declared in the header is checked first, so a tiny file that declares a 100k x 100k image is rejected
without allocating it. A file whose size cannot be read from its header (a format Pillow does not know, a damaged
header) is refused rather than handed to a decoder that would find out only by allocating it. OpenCV's own decoder
limit (``OPENCV_IO_MAX_IMAGE_PIXELS``, read once when cv2 loads) is a second fence: the gateway sets it to its
pixel limit before importing cv2.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from rare.errors import RareError
from rare.formats import IMAGE_SUFFIXES
from rare.preprocess import ImageError, to_bgr8

DEFAULT_MAX_PIXELS = 40_000_000  # a 6000 x 6000 photo; word crops are far smaller

Image.MAX_IMAGE_PIXELS = None  # we apply our own limit below, with our own message


class ImageDecodeError(RareError, ValueError):
    """The bytes are not a decodable image, or it is larger than allowed."""


class ImageTooLargeError(ImageDecodeError):
    """The header declares more pixels than the limit."""


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int
    has_alpha: bool


def probe(data: bytes) -> ImageHeader | None:
    """Read only the header (format, size, alpha); None when Pillow does not know the format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
                return ImageHeader(im.format or "?", im.width, im.height, alpha)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def decode_image(data: bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded image bytes -> uint8 BGR [H, W, 3]."""
    return decode_probed(data, probe(data), max_pixels)


def decode_probed(data: bytes, header: ImageHeader | None, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """:func:`decode_image` for bytes whose header :func:`probe` has already read (None: no readable header)."""
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    if header is None:
        raise ImageDecodeError(
            "cannot decode image: not a supported image format, or a damaged header (its size must be readable "
            "before decoding)"
        )
    if max_pixels is not None and header.width * header.height > max_pixels:
        raise ImageTooLargeError(
            f"image declares {header.width}x{header.height} pixels, more than the limit of {max_pixels:,}"
        )
    flags = cv2.IMREAD_UNCHANGED if header.has_alpha else cv2.IMREAD_COLOR
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, flags)
    except cv2.error as exc:
        raise ImageDecodeError(f"cannot decode image: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    if image is None:
        raise ImageDecodeError(f"cannot decode image: {header.format} image is truncated or corrupt")
    if max_pixels is not None and image.shape[0] * image.shape[1] > max_pixels:
        raise ImageTooLargeError(f"image is {image.shape[1]}x{image.shape[0]}, more than the limit of {max_pixels:,}")
    return to_bgr8(image)


def read_image(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read and decode an image file (unicode paths are fine: the bytes are read by Python, not OpenCV)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"{path}: {exc.strerror or exc}") from None
    try:
        return decode_image(data, max_pixels)
    except ImageDecodeError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def list_images(path: str | Path) -> list[Path]:
    """An image file, or the image files of a folder (sorted, not recursive)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    raise ImageDecodeError(f"{path}: no such file or folder")


@dataclass
class ImageBatch:
    """Crops read from a slice of paths: the decoded images, the positions (in ``paths``) they came from, and the
    paths that could not be read with why."""

    images: list[np.ndarray]
    positions: list[int]
    failed: list[tuple[Path, RareError]]


def read_batches(paths: Sequence[str | Path], batch_size: int) -> Iterator[ImageBatch]:
    """Read ``paths`` in order, ``batch_size`` at a time; an unreadable file is reported, never raised."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, len(paths), batch_size):
        batch = ImageBatch([], [], [])
        for position in range(start, min(start + batch_size, len(paths))):
            try:
                batch.images.append(read_image(paths[position]))
                batch.positions.append(position)
            except (ImageDecodeError, ImageError) as exc:
                batch.failed.append((Path(paths[position]), exc))
        yield batch
