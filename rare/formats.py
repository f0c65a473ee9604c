"""Image formats without dependencies (the client and the decoders share this): the suffixes crops come in, and a
PNG writer for arrays that needs no OpenCV."""

import struct
import zlib
from typing import Any

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm", ".pbm"})


def png_bytes(image: Any) -> bytes:
    """A uint8 numpy array ([H, W] gray, or [H, W, 3] BGR) as a PNG file, with zlib only."""
    if getattr(image, "dtype", None) is None or str(image.dtype) != "uint8" or image.ndim not in (2, 3):
        raise ValueError("arrays must be uint8, [H, W] or [H, W, 3] (BGR)")
    if image.ndim == 3 and image.shape[2] != 3:
        raise ValueError(f"arrays must have 3 channels (BGR), got {image.shape[2]}")
    height, width = image.shape[:2]
    rgb = image[:, :, ::-1] if image.ndim == 3 else image  # PNG stores RGB
    rows = b"".join(b"\x00" + bytes(row) for row in rgb.reshape(height, -1))  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if image.ndim == 3 else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
