"""Every kind of bad or awkward input, over real HTTP; after each, the gateway still serves a good request."""

from __future__ import annotations

import base64
import socket
import time

import numpy as np
import pytest

from tests.images import png, png_bomb, variants, word_bgr
from tests.service.conftest import Gateway
from tests.service.test_recognize import assert_error, files


def still_serves(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.post("/recognize", files=files(("ok.png", png(word_bgr()))))
    assert response.status_code == 200 and response.json()["results"][0]["text"] is not None


def recognize_one(gateway: Gateway, name: str, data: bytes) -> dict:
    with gateway.client() as client:
        response = client.post("/recognize", files=files((name, data)))
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def test_decompression_bomb_is_refused_from_its_header(gateway: Gateway) -> None:
    bomb = png_bomb()
    assert len(bomb) < 200
    result = recognize_one(gateway, "bomb.png", bomb)
    assert result["error"]["code"] == "image_too_large" and "declares 100000x100000" in result["error"]["message"]
    still_serves(gateway)


@pytest.mark.parametrize(
    "shape",
    [(1, 3000), (3000, 1), (2, 4000, 3), (4000, 2, 3), (1, 1)],
    ids=["1x3000", "3000x1", "2x4000", "4000x2", "1x1"],
)
def test_absurd_aspect_ratios_are_recognized(gateway: Gateway, shape: tuple[int, ...]) -> None:
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    result = recognize_one(gateway, "odd.png", png(image))
    assert result["error"] is None and isinstance(result["text"], str)
    still_serves(gateway)


def test_every_format_and_layout_reads_like_the_plain_crop(gateway: Gateway) -> None:
    """Grayscale, RGBA, 16-bit, palette, BMP/WebP/TIFF, CMYK and EXIF-rotated JPEG all give a result, and the
    lossless ones exactly the text of the plain PNG (EXIF orientation is checked on pixels in tests/rare)."""
    items = [("plain.png", png(word_bgr())), *variants().items()]
    results = {}
    with gateway.client() as client:
        for start in range(0, len(items), 6):  # the test gateway takes 8 crops per request
            body = client.post("/recognize", files=files(*items[start : start + 6])).json()
            results.update({r["filename"]: r for r in body["results"]})
    assert all(r["error"] is None for r in results.values()), results
    for lossless in ("rgba.png", "16bit.png", "bmp.bmp", "webp.webp", "tiff.tiff"):
        assert results[lossless]["text"] == results["plain.png"]["text"], lossless
    assert results["gray16.png"]["text"] == results["gray.png"]["text"]
    still_serves(gateway)


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("truncated.png", png(word_bgr())[:300], "undecodable_image"),
        ("zero.png", b"", "undecodable_image"),
        ("not_an_image.png", b"%PDF-1.4 definitely not a picture" * 10, "undecodable_image"),
        ("html.jpg", b"<html><body>hi</body></html>", "undecodable_image"),
    ],
)
def test_broken_files_are_per_item_errors(gateway: Gateway, name: str, data: bytes, code: str) -> None:
    result = recognize_one(gateway, name, data)
    assert result["error"]["code"] == code and result["text"] is None
    still_serves(gateway)


def test_request_level_garbage_then_still_serving(gateway: Gateway) -> None:
    with gateway.client() as client:
        assert_error(
            client.post("/recognize", content=b"\x00\xff" * 100, headers={"content-type": "image/png"}),
            415,
            "unsupported_media_type",
        )
        assert_error(
            client.post(
                "/recognize",
                content=b'--b\r\nContent-Disposition: form-data; name="images"\r\n',
                headers={"content-type": "multipart/form-data; boundary=b"},
            ),
            400,
            "no_images",
        )
        assert_error(client.post("/recognize", json={"images": "notalist"}), 400, "malformed_body")
        assert_error(client.post("/recognize", json=[1, 2, 3]), 400, "malformed_body")
        bad64 = {"images": [base64.b64encode(b"x" * 10).decode() + "!!"]}
        assert client.post("/recognize", json=bad64).json()["results"][0]["error"]["code"] == "invalid_base64"
    still_serves(gateway)


def test_a_client_that_hangs_up_mid_body_is_a_499_not_an_error(gateway: Gateway) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    head = (
        f"POST /recognize HTTP/1.1\r\nHost: {host}\r\nX-Request-ID: gone-1\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n"
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode())
        time.sleep(0.3)  # the gateway is now waiting for the rest of the body
    log = gateway.wait_for_log("gone-1 POST /recognize 499")
    assert "gone-1 POST /recognize 499" in log
    assert "unhandled error" not in log and "ClientDisconnect" not in log
    still_serves(gateway)
