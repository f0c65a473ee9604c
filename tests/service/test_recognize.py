"""POST /recognize over real HTTP: multipart and JSON, per-crop errors, request-level 4xx, input order."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import cv2
import httpx
import numpy as np

from rare.images import read_image
from rare.onnx_runtime import OnnxRecognizer
from service.pipeline import INLINE_DECODE_BYTES
from tests.conftest import val_crops
from tests.service.conftest import Gateway


def files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images", (name, data, "application/octet-stream")) for name, data in items]


def crop_bytes(count: int = 3) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path, _ in val_crops("IIIT5K", count)]


def test_many_crops_come_back_in_order_with_the_library_result(gateway: Gateway, calib_model_dir) -> None:
    crops = crop_bytes(4)
    with gateway.client() as client:
        response = client.post("/recognize", files=files(*crops))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["backend"] == "onnxruntime" and body["model"]["name"] == "rare_calib"
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert [r["filename"] for r in body["results"]] == [name for name, _ in crops]
    expected = OnnxRecognizer(calib_model_dir).recognize([read_image(p) for p, _ in val_crops("IIIT5K", 4)])
    for result, rec in zip(body["results"], expected, strict=True):
        assert result["text"] == rec.text and result["error"] is None
        assert abs(result["confidence"] - rec.confidence) < 1e-6
        assert len(result["char_confidences"]) == len(rec.text)
    assert response.headers["x-request-id"] == body["request_id"]


def test_small_and_large_requests_read_alike(gateway: Gateway) -> None:
    """A small request is decoded on the event loop, one over INLINE_DECODE_BYTES on the thread pool: same results."""
    crops = crop_bytes(4)
    padding = ("big.png", cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (100, 300, 3), np.uint8))[1])
    assert len(padding[1]) > INLINE_DECODE_BYTES
    with gateway.client() as client:
        small = client.post("/recognize", files=files(*crops)).json()["results"]
        large = client.post("/recognize", files=files(*crops, (padding[0], padding[1].tobytes()))).json()["results"]
    assert [r["text"] for r in large[:4]] == [r["text"] for r in small]
    assert [r["confidence"] for r in large[:4]] == [r["confidence"] for r in small]
    assert large[4]["error"] is None


def test_json_base64_equals_multipart(gateway: Gateway) -> None:
    crops = crop_bytes(2)
    payload = {"images": [base64.b64encode(d).decode() for _, d in crops], "filenames": ["a.png", "b.png"]}
    with gateway.client() as client:
        as_json = client.post("/recognize", json=payload).json()
        as_multipart = client.post("/recognize", files=files(*crops)).json()
    assert [r["text"] for r in as_json["results"]] == [r["text"] for r in as_multipart["results"]]
    assert [r["filename"] for r in as_json["results"]] == ["a.png", "b.png"]


def test_bad_crops_get_their_own_error_and_the_rest_are_recognized(gateway: Gateway) -> None:
    good = crop_bytes(1)[0]
    png = cv2.imencode(".png", np.zeros((20, 60, 3), np.uint8))[1].tobytes()
    items = [
        good,
        ("broken.png", png[: len(png) // 2]),
        ("empty.png", b""),
        ("text.png", b"hello world"),
        ("big.png", b"\x89PNG" + bytes(300_000)),
        good,
    ]
    with gateway.client() as client:
        body = client.post("/recognize", files=files(*items)).json()
    codes = [r["error"]["code"] if r["error"] else None for r in body["results"]]
    assert codes == [None, "undecodable_image", "undecodable_image", "undecodable_image", "image_too_large", None]
    assert body["results"][0]["text"] == body["results"][5]["text"] is not None
    assert body["results"][1]["text"] is None and "truncated or corrupt" in body["results"][1]["error"]["message"]
    assert "empty file" in body["results"][2]["error"]["message"]


def test_invalid_base64_is_a_per_item_error(gateway: Gateway) -> None:
    good = base64.b64encode(crop_bytes(1)[0][1]).decode()
    with gateway.client() as client:
        body = client.post("/recognize", json={"images": ["%%%not base64%%%", good]}).json()
    assert body["results"][0]["error"]["code"] == "invalid_base64" and body["results"][1]["text"] is not None


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"] and body["request_id"]
    return body


def test_request_level_problems_are_4xx_json(gateway: Gateway) -> None:
    with gateway.client() as client:
        assert_error(client.post("/recognize", files={"other": ("x.png", b"abc")}), 400, "no_images")
        assert_error(client.post("/recognize", files=files(*crop_bytes(1) * 9)), 413, "too_many_images")
        assert_error(client.post("/recognize", json={"images": ["a"] * 9}), 413, "too_many_images")
        assert_error(
            client.post("/recognize", content=b"x", headers={"content-type": "text/plain"}),
            415,
            "unsupported_media_type",
        )
        assert_error(
            client.post("/recognize", content=b"{bad", headers={"content-type": "application/json"}),
            400,
            "malformed_body",
        )
        assert_error(client.post("/recognize", json={"images": []}), 400, "no_images")
        assert_error(client.post("/recognize", json={"pictures": ["a"]}), 400, "malformed_body")
        assert_error(
            client.post("/recognize", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"}),
            400,
            "malformed_body",
        )  # no boundary
        assert_error(
            client.post(
                "/recognize", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}
            ),
            400,
            "no_images",
        )  # no complete part
        assert_error(client.get("/nope"), 404, "not_found")
        assert_error(client.get("/recognize"), 405, "method_not_allowed")
        assert client.post("/recognize", files=files(*crop_bytes(1))).status_code == 200


def test_body_over_the_limit_is_refused_before_reading(gateway: Gateway) -> None:
    with gateway.client() as client:
        declared = client.post(
            "/recognize", content=b"0" * 2_000_000, headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert_error(declared, 413, "payload_too_large")

        def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to check up front
            yield b'--x\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n\r\n'
            for _ in range(40):
                yield b"0" * 50_000

        streamed = client.post(
            "/recognize", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert_error(streamed, 413, "payload_too_large")
        assert client.post("/recognize", files=files(*crop_bytes(1))).status_code == 200


def test_unicode_file_names_round_trip(gateway: Gateway) -> None:
    name, data = crop_bytes(1)[0]
    with gateway.client() as client:
        body = client.post("/recognize", files=files(("wörd_文字.png", data))).json()
    assert body["results"][0]["filename"] == "wörd_文字.png" and body["results"][0]["text"] is not None
