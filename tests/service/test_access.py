"""API key, CORS and request ids against a real gateway process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.images import png, word_bgr
from tests.service.conftest import Gateway, start_gateway, stop_gateway
from tests.service.test_recognize import assert_error, files

KEY = "s3cret-key-for-tests"


@pytest.fixture(scope="module")
def keyed_gateway(calib_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {
        "RARE_MODEL_DIR": str(calib_model_dir),
        "RARE_API_KEY": KEY,
        "RARE_ORT_THREADS": "1",
        "RARE_CORS_ORIGINS": '["https://app.example"]',
        "RARE_AUTH_EXEMPT_PATHS": '["/healthz", "/readyz"]',
    }
    gw = start_gateway(env, tmp_path_factory.mktemp("keyed") / "gateway.log")
    yield gw
    stop_gateway(gw)


def test_api_key_is_required_except_on_exempt_paths(keyed_gateway: Gateway) -> None:
    crop = files(("a.png", png(word_bgr())))
    with keyed_gateway.client() as client:
        body = assert_error(client.post("/recognize", files=crop), 401, "unauthorized")
        assert KEY not in str(body)
        assert_error(client.post("/recognize", files=crop, headers={"X-API-Key": KEY + "x"}), 401, "unauthorized")
        assert_error(client.get("/metrics"), 401, "unauthorized")  # not exempt in this configuration
        assert client.post("/recognize", files=crop, headers={"X-API-Key": KEY}).status_code == 200
        assert client.post("/recognize", files=crop, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_cors_only_for_configured_origins(keyed_gateway: Gateway, gateway: Gateway) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    allowed = httpx.options(keyed_gateway.url + "/recognize", headers=preflight)
    assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
    other = httpx.options(keyed_gateway.url + "/recognize", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    refused = httpx.post(keyed_gateway.url + "/recognize", headers={"Origin": "https://app.example"})
    assert refused.status_code == 401  # a browser can read why: the refusal carries the CORS headers too
    assert refused.headers.get("access-control-allow-origin") == "https://app.example"
    default = httpx.get(gateway.url + "/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in default.headers  # CORS is off by default


def test_request_ids_are_kept_or_made_and_logged(gateway: Gateway) -> None:
    with gateway.client() as client:
        mine = client.get("/healthz", headers={"X-Request-ID": "trace-42.abc"})
        made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
        failed = client.post(
            "/recognize", content=b"x", headers={"content-type": "text/plain", "X-Request-ID": "err-7"}
        )
    assert mine.headers["x-request-id"] == "trace-42.abc"
    assert len(made.headers["x-request-id"]) == 32 and " " not in made.headers["x-request-id"]
    assert failed.json()["request_id"] == "err-7" == failed.headers["x-request-id"]
    log = gateway.wait_for_log("trace-42.abc GET /healthz 200", "err-7 POST /recognize 415")
    assert "trace-42.abc GET /healthz 200" in log and "err-7 POST /recognize 415" in log
    assert "Traceback" not in failed.text
