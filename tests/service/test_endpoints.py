"""Health, readiness, models, metrics and OpenAPI over real HTTP."""

from __future__ import annotations

import re
from pathlib import Path

from tests.service.conftest import Gateway, start_gateway, stop_gateway
from tests.service.test_recognize import crop_bytes, files


def test_health_ready_models(gateway: Gateway) -> None:
    with gateway.client() as client:
        assert client.get("/healthz").json() == {"status": "ok", "detail": None}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        (model,) = client.get("/v1/models").json()["models"]
    assert model["name"] == "rare_calib" and model["ready"] and model["backend"] == "onnxruntime"
    assert model["charset"] == list("0123456789abcdefghijklmnopqrstuvwxyz") and model["image_shape"] == [3, 32, 100]


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_move_with_traffic(gateway: Gateway) -> None:
    with gateway.client() as client:
        before = client.get("/metrics").text
        client.post("/recognize", files=files(*crop_bytes(3), ("bad.png", b"nope")))
        exposition = client.get("/metrics")
        after = exposition.text
    assert exposition.headers["content-type"].startswith("text/plain")
    key = "rare_http_request_duration_seconds_count"
    assert (
        metric(after, key, route="/recognize", status="200")
        == metric(before, key, route="/recognize", status="200") + 1
    )
    assert (
        metric(after, "rare_crops_total", outcome="recognized")
        - metric(before, "rare_crops_total", outcome="recognized")
        == 3
    )
    assert metric(after, "rare_errors_total", reason="undecodable_image") > metric(
        before, "rare_errors_total", reason="undecodable_image"
    )
    for stage in ("decode", "preprocess", "infer", "postprocess"):
        assert metric(after, "rare_stage_duration_seconds_count", stage=stage) > 0
    assert metric(after, "rare_crops_per_request_count") > 0
    assert re.search(r"^rare_http_requests_in_flight \d", after, re.M)


def test_a_big_request_is_split_over_the_model_instances(gateway: Gateway) -> None:
    """Two instances: six crops go to the backend as two chunks of three that run at once (results stay in order:
    test_recognize)."""
    with gateway.client() as client:
        assert "2 instance(s) x 1 thread(s)" in gateway.log_text()  # the layout is logged when the model loads
        before = client.get("/metrics").text
        assert client.post("/recognize", files=files(*crop_bytes(6))).status_code == 200
        after = client.get("/metrics").text
    calls = metric(after, "rare_backend_batch_size_count") - metric(before, "rare_backend_batch_size_count")
    crops = metric(after, "rare_backend_batch_size_sum") - metric(before, "rare_backend_batch_size_sum")
    assert (calls, crops) == (2, 6)
    inferred = metric(after, "rare_inference_batch_size_sum") - metric(before, "rare_inference_batch_size_sum")
    assert inferred == 6 and metric(after, "rare_inference_batch_size_count") > 0  # after micro-batching


def test_openapi_documents_both_request_bodies(gateway: Gateway) -> None:
    with gateway.client() as client:
        spec = client.get("/openapi.json").json()
    body = spec["paths"]["/recognize"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}
    responses = spec["paths"]["/recognize"]["post"]["responses"]
    assert {"200", "400", "413", "415", "429", "503", "504"} <= set(responses)


def test_metrics_add_up_over_two_workers(calib_model_dir, tmp_path) -> None:
    """Two uvicorn workers: every scrape (whichever worker answers) counts every worker's crops."""
    env = {"RARE_MODEL_DIR": str(calib_model_dir), "RARE_WORKERS": "2", "RARE_ORT_INSTANCES": "1"}
    gateway = start_gateway({**env, "RARE_ORT_THREADS": "1"}, tmp_path / "gateway.log", "/readyz")
    try:
        with gateway.client() as client:
            for _ in range(12):
                assert client.post("/recognize", files=files(*crop_bytes(2))).status_code == 200
            counts = {metric(client.get("/metrics").text, "rare_crops_total", outcome="recognized") for _ in range(8)}
        assert counts == {24.0}
        folder = re.search(r"added up in (\S+)", gateway.log_text())[1]
        assert Path(folder).is_dir()
    finally:
        stop_gateway(gateway)
    assert not Path(folder).exists()  # the launcher removed it
