"""Hostile clients over real HTTP, against a running gateway at its default limits: bounded memory, slow clients
that starve no one, refusals that reach the client, and a gateway that keeps serving throughout."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.images import flat_png, hdr_bomb, png, png_bad_crc, word_bgr
from tests.service.conftest import Gateway, start_gateway, stop_gateway

GIB = 1024**3


@pytest.fixture(scope="module")
def hostile(calib_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The gateway at its default limits (only the model and the scratch folder are set), on the embedded backend."""
    scratch = tmp_path_factory.mktemp("gateway_tmp")
    env = {"RARE_MODEL_DIR": str(calib_model_dir), "RARE_ORT_THREADS": "1", "TMPDIR": str(scratch)}
    gateway = start_gateway(env, tmp_path_factory.mktemp("hostile") / "gateway.log", "/readyz")
    gateway.scratch = scratch  # type: ignore[attr-defined]
    yield gateway
    stop_gateway(gateway)


def peak_rss(gateway: Gateway) -> int:
    """The gateway process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{gateway.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def post(gateway: Gateway, *crops: tuple[str, bytes], timeout: float = 120) -> httpx.Response:
    parts = [("images", (name, data, "application/octet-stream")) for name, data in crops]
    return httpx.post(gateway.url + "/recognize", files=parts, timeout=timeout)


def assert_serves(gateway: Gateway, within: float = 10) -> None:
    start = time.monotonic()
    response = post(gateway, ("word.png", png(word_bgr())), timeout=within)
    assert response.status_code == 200 and response.json()["results"][0]["text"] is not None
    assert time.monotonic() - start < within


def test_bombs_and_huge_crops_keep_memory_under_a_gibibyte(hostile: Gateway) -> None:
    """Three 20000x20000 PNGs with a bad CRC at once (Pillow cannot read their header, libpng would decode
    them), a Radiance HDR bomb, then 64 crops of 5000x5000 in one request (inside every byte limit)."""
    bombs = [("bad_crc.png", png_bad_crc())] * 3 + [("bomb.hdr", hdr_bomb())]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda bomb: post(hostile, bomb), bombs))
    for answer in answers:
        assert answer.status_code == 200
        assert answer.json()["results"][0]["error"]["code"] == "undecodable_image"
    big = flat_png(5000, 5000)
    assert len(big) * 64 < 32 * 1024 * 1024
    results = post(hostile, *[(f"{i}.png", big) for i in range(64)]).json()["results"]
    read = [r for r in results if r["error"] is None]
    assert len(read) == 4  # 4 x 25 Mpx fill the request's budget of 100 Mpx; the others are told why
    assert {r["error"]["code"] for r in results if r["error"]} == {"image_too_large"}
    assert "RARE_MAX_REQUEST_PIXELS" in results[-1]["error"]["message"]
    assert peak_rss(hostile) < GIB
    assert_serves(hostile)


def stalled(gateway: Gateway, head_only: bool) -> socket.socket:
    """A client that sends its headers (or half of them) and part of a 100 kB body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])))
    head = b"POST /recognize HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    sock.sendall(head if head_only else head + b"Content-Length: 100000\r\n\r\n--b\r\n" + b"x" * 1000)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it is still open after ``seconds``."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_stalled_clients_hold_no_slot_and_are_closed(hostile: Gateway) -> None:
    start = time.monotonic()
    socks = [stalled(hostile, head_only=i % 6 == 0) for i in range(300)]
    try:
        for _ in range(5):
            assert_serves(hostile, within=10)
        answers = [closed_within(sock, max(1.0, 60 - (time.monotonic() - start))) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    assert all(answer is not None for answer in answers)  # every stalled connection closed within 60 s
    assert all(b"408" in answer.split(b"\r\n", 1)[0] for answer in answers if answer)
    assert_serves(hostile)


def test_a_mebibyte_of_headers_is_refused_with_431(hostile: Gateway) -> None:
    sock = socket.create_connection(("127.0.0.1", int(hostile.url.rsplit(":", 1)[1])))
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before the whole header was sent
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 1024 * 1024)
    answer = closed_within(sock, 10)
    sock.close()
    assert answer is not None and answer.startswith(b"HTTP/1.1 431")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "header_too_large"
    assert_serves(hostile)


def test_a_keep_alive_connections_next_request_is_held_to_the_same_limits(hostile: Gateway) -> None:
    """After one answered request on the connection, oversized headers still get their 431 (not a silent close)."""
    sock = socket.create_connection(("127.0.0.1", int(hostile.url.rsplit(":", 1)[1])))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = sock.recv(65536)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for chunk in range(16):  # 1 MiB of headers, in chunks as a slow client sends them
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " if chunk == 0 else b"a" * 65536)
    received = first + (closed_within(sock, 10) or b"")
    sock.close()
    answered, _, refused = received.partition(b"HTTP/1.1 431")
    assert answered.startswith(b"HTTP/1.1 200") and refused, received[:300]  # the 200, then the 431
    assert json.loads(refused.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "header_too_large"


def test_unfinished_huge_parts_touch_no_disk(hostile: Gateway) -> None:
    """Eight parts of 30 MiB each, announced and begun: only the per-image limit of each is ever kept."""
    socks = []
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", int(hostile.url.rsplit(":", 1)[1])))
        head = b"POST /recognize HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        part = b'--b\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n\r\n'
        sock.sendall(head + b"Content-Length: 33000000\r\n\r\n" + part + b"\x00" * (8 * 1024 * 1024))
        socks.append(sock)
    time.sleep(1)
    spooled = sum(p.stat().st_size for p in hostile.scratch.rglob("*") if p.is_file())  # type: ignore[attr-defined]
    assert spooled < 64 * 1024  # nothing of the 64 MiB sent (the folder holds only a runtime's small state file)
    assert peak_rss(hostile) < GIB
    for sock in socks:
        sock.close()
    assert_serves(hostile)


def test_shutdown_answers_a_stalled_client_and_does_not_wait_for_it(calib_model_dir: Path, tmp_path: Path) -> None:
    gateway = start_gateway({"RARE_MODEL_DIR": str(calib_model_dir), "RARE_ORT_THREADS": "1"}, tmp_path / "g.log")
    try:
        sock = stalled(gateway, head_only=False)
        time.sleep(0.5)
        start = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        answer = closed_within(sock, 15)
        gateway.process.wait(timeout=15)
        assert time.monotonic() - start < 5
        assert answer is not None and answer.startswith(b"HTTP/1.1 503") and b"retry-after: " in answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "shutting_down"
    finally:
        stop_gateway(gateway)


def test_refusals_under_load_are_read_by_the_clients(calib_model_dir: Path, tmp_path: Path) -> None:
    """One recognition at a time and 16 clients sending 200 kB crops: every client reads a 200 or a 429 with
    Retry-After (never a reset); a body over the request limit gets its 413."""
    env = {"RARE_MODEL_DIR": str(calib_model_dir), "RARE_ORT_THREADS": "1", "RARE_MAX_IN_FLIGHT": "1"}
    gateway = start_gateway({**env, "RARE_MAX_REQUEST_BYTES": "1000000"}, tmp_path / "gateway.log")
    noise = png(np.random.default_rng(0).integers(0, 256, (200, 330, 3), np.uint8))
    assert 150_000 < len(noise) < 400_000
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: post(gateway, ("noise.png", noise), timeout=60), range(64)))
        assert {a.status_code for a in answers} == {200, 429}  # both happen, and nothing else
        assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 429)
        too_big = post(gateway, *[("noise.png", noise)] * 8)  # 1.6 to 2 MB declared, over the 1 MB limit
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    finally:
        stop_gateway(gateway)
