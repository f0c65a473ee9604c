"""Encoded test images of every awkward kind (built in memory, no network, no checked-in files)."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image

from rare.images import read_image
from tests.conftest import val_crops


def word_bgr() -> np.ndarray:
    """A real word crop from real_val (BGR)."""
    path, _ = val_crops("IIIT5K", 1)[0]
    return read_image(path)


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A ~100-byte PNG whose header declares width x height pixels (decoding it would need ~10 GB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def variants() -> dict[str, bytes]:
    """The same word in the formats and layouts clients send."""
    bgr = word_bgr()
    rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    out: dict[str, bytes] = {
        "gray.png": png(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)),
        "rgba.png": png(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)),
        "16bit.png": png(bgr.astype(np.uint16) * 257),
        "gray16.png": png(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257),
        "palette.gif": _pil(rgb.convert("P"), "GIF"),
        "bmp.bmp": _pil(rgb, "BMP"),
        "webp.webp": _pil(rgb, "WEBP", lossless=True),
        "tiff.tiff": _pil(rgb, "TIFF"),
        "cmyk.jpg": _pil(rgb.convert("CMYK"), "JPEG", quality=95),
        "plain.jpg": _pil(rgb, "JPEG", quality=95),
    }
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the stored pixels must be turned 90 degrees clockwise to display
    out["exif_rotated.jpg"] = _pil(rgb.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)
    return out


def _pil(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes, crc_ok: bool = True) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc if crc_ok else crc ^ 0xFFFFFFFF)


def png_bad_crc(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real, fully encoded grayscale PNG (a few hundred KB, ``width x height`` zeros) whose ancillary tEXt chunk
    has a wrong CRC: Pillow refuses its header, while libpng only warns and decodes all of it."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte 0, then the row
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    text = _png_chunk(b"tEXt", b"Comment\x00hello", crc_ok=False)
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + text + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )


def hdr_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A Radiance HDR file declaring ``width x height`` pixels, run-length encoded to a few hundred KB (a format
    OpenCV decodes and Pillow cannot read)."""
    scanline = b"\x02\x02" + struct.pack(">H", width) + (bytes([128 + 127, 0]) * (width // 127 + 1)) * 4
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {height} +X {width}\n".encode() + scanline[:64] * 8


def flat_png(width: int, height: int) -> bytes:
    """A solid grey PNG (compresses to almost nothing, decodes to ``width x height x 3`` bytes)."""
    return png(np.full((height, width, 3), 180, np.uint8))
