"""Which requests the pipeline decodes on the event loop: few files, few bytes, few declared pixels."""

from __future__ import annotations

import cv2
import numpy as np

from service.pipeline import INLINE_DECODE_FILES, _small_request_headers
from service.uploads import Upload
from tests.images import png, png_bomb, word_bgr


def uploads(*datas: bytes | None) -> list[Upload]:
    return [Upload(f"{i}.png", data) for i, data in enumerate(datas)]


def test_a_few_word_crops_decode_on_the_loop_with_their_headers() -> None:
    crop = png(word_bgr())
    headers = _small_request_headers(uploads(crop, None, crop))  # None: a crop that already failed (too large)
    assert headers is not None and headers[1] is None
    assert (headers[0].width, headers[0].height) == (word_bgr().shape[1], word_bgr().shape[0])


def test_many_files_many_bytes_or_many_declared_pixels_go_to_the_thread_pool() -> None:
    crop = png(word_bgr())
    noise = cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (150, 200, 3), np.uint8))[1].tobytes()
    assert _small_request_headers(uploads(*[crop] * (INLINE_DECODE_FILES + 1))) is None
    assert _small_request_headers(uploads(noise)) is None  # over the byte budget
    assert _small_request_headers(uploads(png_bomb(2000, 2000))) is None  # ~100 bytes that declare 4 Mpx
    assert _small_request_headers(uploads(b"not an image")) is None  # size unknown
