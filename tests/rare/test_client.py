"""rare.client against a real gateway (the shipped model, small limits so work is split), and its retry rules."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rare.client import AsyncClient, Client, ClientError
from rare.images import read_image
from rare.wire import Item, Limits, batches_of, lexicon_fields
from tests.conftest import REPO, val_crops
from tests.service.conftest import Gateway, start_gateway, stop_gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # ONNX Runtime FP32, so that readings compare exactly with the library's (a gated BF16 engine may read one
    # crop otherwise)
    env = {
        "RARE_ORT_THREADS": "1",
        "RARE_MAX_IMAGES": "8",
        "RARE_MAX_IMAGE_BYTES": "50000",
        "RARE_ENGINE": "onnxruntime",
    }
    gw = start_gateway(env, tmp_path_factory.mktemp("client") / "gateway.log", "/readyz")
    yield gw
    stop_gateway(gw)


def direct_texts(gateway: Gateway, paths: list[Path]) -> list[str]:
    texts = []
    for start in range(0, len(paths), 8):
        files = [("images", (p.name, p.read_bytes(), "image/png")) for p in paths[start : start + 8]]
        texts += [r["text"] for r in httpx.post(gateway.url + "/recognize", files=files).json()["results"]]
    return texts


def test_paths_bytes_and_arrays_come_back_in_order_over_several_requests(gateway: Gateway, tmp_path: Path) -> None:
    paths = [path for path, _ in val_crops("IIIT5K", 20)]
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"0" * 60_000)
    sources = [*paths[:10], paths[10].read_bytes(), read_image(paths[11]), *paths[12:], tmp_path / "missing.png", big]
    with Client(gateway.url, concurrency=3) as client:
        assert client.limits().max_images == 8
        results = client.recognize(sources)
    expected = direct_texts(gateway, paths)
    assert [r.text for r in results[:20]] == expected  # 22 inputs, 3 requests of at most 8
    assert results[0].confidence is not None and len(results[0].char_confidences or []) == len(expected[0])
    assert (results[20].error, results[21].error) == ("unreadable_file", "image_too_large")
    assert asyncio.run(recognize_async(gateway.url, sources[:20])) == expected
    with Client(gateway.url) as client:
        matched = client.recognize(paths[:8], lexicon=[*expected[:8], "distractor", "words"])
    assert [r.lexicon_word for r in matched] == expected[:8] and all(r.lexicon_score == 1.0 for r in matched)


async def recognize_async(url: str, sources: list) -> list[str | None]:
    async with AsyncClient(url, concurrency=2) as client:
        return [r.text for r in await client.recognize(sources)]


def test_the_client_needs_only_httpx(gateway: Gateway) -> None:
    """With numpy, OpenCV, Pillow, ONNX Runtime and torch unimportable, the client still reads through a gateway."""
    path = val_crops("IIIT5K", 1)[0][0]
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {{"numpy", "cv2", "PIL", "onnxruntime", "torch"}}:
            raise ModuleNotFoundError(name, name=name)
sys.meta_path.insert(0, Block())
from rare.client import Client
with Client({gateway.url!r}) as client:
    print(client.recognize([{str(path)!r}])[0].text)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == direct_texts(gateway, [path])[0]


def test_429_and_503_are_retried_as_told_and_4xx_is_final() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "1"}, json={"error": {"code": "overloaded", "message": ""}}),
            httpx.Response(503, json={"error": {"code": "backend_unavailable", "message": ""}}),
            httpx.Response(200, json={"results": [{"text": "ok", "confidence": 0.9, "char_confidences": [0.9, 0.9]}]}),
        ]
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/v1/models":
            return httpx.Response(
                200, json={"limits": {"max_images": 8, "max_image_bytes": 100, "max_request_bytes": 1000}}
            )
        return next(answers)

    client = Client("http://gateway", transport=httpx.MockTransport(handler))
    waits: list[float] = []
    client.retry.sleep = waits.append
    assert client.recognize([b"png"])[0].text == "ok"
    assert waits[0] == 1.0 and len(waits) == 2 and seen.count("/recognize") == 3
    refused = Client(
        "http://gateway",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(401, json={"error": {"code": "unauthorized", "message": "key"}})
        ),
    )
    with pytest.raises(ClientError, match="401 unauthorized") as failure:
        refused.limits()
    assert failure.value.status == 401


def test_requests_leave_room_for_the_lexicon_every_one_carries() -> None:
    limits = Limits(max_images=64, max_image_bytes=10_000, max_request_bytes=20_000)
    items = [Item(i, f"{i}.png", b"x" * 3_000) for i in range(10)]
    plain = batches_of(items, limits)
    with_lexicon = batches_of(items, limits, lexicon_fields(["word"] * 1_500, None))  # 7.5 kB of candidates
    assert [len(b) for b in plain] == [4, 4, 2]
    assert [len(b) for b in with_lexicon] == [2, 2, 2, 2, 2]
    for batch in with_lexicon:
        assert sum(len(i.data) + 256 for i in batch) + 1_500 * 5 + 256 + 4096 <= limits.max_request_bytes


def test_a_server_that_stays_down_is_waited_for_one_to_two_minutes_then_given_up() -> None:
    """Long enough for a gateway to restart on a loaded machine; then a ClientError naming the last failure."""
    from rare.client import _Retry

    slept: list[float] = []
    retry = _Retry(sleep=slept.append)
    down = httpx.ConnectError("connection refused")
    for attempt in range(retry.attempts - 1):
        reason, wait = retry.judge(attempt, down)
        retry.sleep(wait)
    assert 55 <= sum(slept) <= 115 and max(slept) <= retry.cap_s
    assert "connection refused" in str(retry.given_up(reason))
    assert retry.judge(0, httpx.Response(200)) == ("", 0.0)  # an answer is final
    assert retry.judge(0, httpx.Response(503, headers={"retry-after": "3"}))[1] == 3.0
