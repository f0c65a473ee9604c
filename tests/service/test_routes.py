"""Routes, errors and limits in-process, on a fake backend (the Backend Protocol): what needs no real model."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rare.lexicon import LexiconError
from rare.orientation import Orientation
from service.app import create_app
from service.backends.base import Answer
from service.errors import BackendFailed, BackendTimeout, BackendUnavailable, GatewayError, Overloaded
from service.settings import Settings
from tests.images import png
from tests.service.fake import FakeBackend


def crop(width: int, height: int = 32) -> bytes:
    """A crop whose preprocessed row fills ``width`` columns (at height 32), so the fake backend reads ``width``."""
    return png(np.full((height, width, 3), 200, np.uint8))


@pytest.fixture()
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture()
def client(backend: FakeBackend) -> Iterator[TestClient]:
    settings = Settings(max_images=4, max_request_bytes=100_000, api_key="s3cret", retry_after_s=3)
    with TestClient(create_app(settings, backend), headers={"X-API-Key": "s3cret"}) as client:
        yield client


def test_multipart_results_come_in_input_order_with_the_model_that_answered(client: TestClient) -> None:
    files = [("images", (f"{w}.png", crop(w), "image/png")) for w in (40, 7, 100)]
    body = client.post("/recognize", files=files).json()
    assert [r["text"] for r in body["results"]] == ["40", "7", "100"]
    assert [r["filename"] for r in body["results"]] == ["40.png", "7.png", "100.png"]
    assert body["results"][0]["char_confidences"] == pytest.approx([0.9, 0.9])
    assert body["model"] == {"name": "fake_model", "version": "7", "backend": "fake"} and body["request_id"]


def test_json_body_and_a_bad_crop_among_good_ones(client: TestClient) -> None:
    good = base64.b64encode(crop(64)).decode()
    body = client.post("/recognize", json={"images": [good, "%%%", good]}).json()
    assert [r["text"] for r in body["results"]] == ["64", None, "64"]
    assert body["results"][1]["error"]["code"] == "invalid_base64"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"files": [("images", ("a.png", crop(9), "image/png"))] * 5}, 413, "too_many_images"),
        ({"content": b"x" * 200_000, "headers": {"content-type": "application/json"}}, 413, "payload_too_large"),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"json": {"images": []}}, 400, "no_images"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "malformed_body"),
        (
            {"content": b"--x", "headers": {"content-type": "multipart/form-data; boundary=" + "x" * 300}},
            400,
            "malformed_body",
        ),
        (
            {"files": [("images", ("a.png", crop(9), "image/png"))], "data": {"lexicon": "w" * 65}},
            400,
            "invalid_lexicon",
        ),
    ],
)
def test_request_problems_are_typed_4xx(client: TestClient, kwargs: dict, status: int, code: str) -> None:
    response = client.post("/recognize", **kwargs)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_the_key_is_checked_before_the_body_and_exempt_paths_stay_open(client: TestClient) -> None:
    refused = client.post("/recognize", files=[("images", ("a.png", crop(9), "image/png"))], headers={"X-API-Key": ""})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert refused.headers["www-authenticate"] == "Bearer" and refused.headers["x-request-id"]
    assert client.get("/readyz", headers={"X-API-Key": ""}).status_code == 200


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (BackendTimeout("late"), 504, None),
        (Overloaded("queue full", retry_after=3), 429, "3"),
        (BackendUnavailable("down", retry_after=3), 503, "3"),
        (BackendFailed("bad answer"), 502, None),
    ],
)
def test_backend_failures_map_to_their_status(
    client: TestClient, backend: FakeBackend, error: GatewayError, status: int, retry_after: str | None
) -> None:
    backend.error = error
    response = client.post("/recognize", files=[("images", ("a.png", crop(9), "image/png"))])
    assert response.status_code == status and response.json()["error"]["code"] == error.code
    assert response.headers.get("retry-after") == retry_after
    backend.error = None
    assert client.post("/recognize", files=[("images", ("a.png", crop(9), "image/png"))]).status_code == 200


def test_readiness_and_models_follow_the_backend(client: TestClient, backend: FakeBackend) -> None:
    models = client.get("/v1/models").json()["models"][0]
    assert models["name"] == "fake_model" and models["backend"] == "fake" and models["image_shape"] == [3, 32, 100]
    backend.ready = False
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "not_ready"
    assert "rare_backend_ready" in client.get("/metrics").text


def test_requests_are_batched_up_to_the_backends_limit(client: TestClient, backend: FakeBackend) -> None:
    backend.max_batch_size = 2
    client.post("/recognize", files=[("images", (f"{i}.png", crop(9), "image/png")) for i in range(4)])
    assert backend.batches == [2, 2]


def test_a_data_url_without_payload_is_a_crop_error(client: TestClient) -> None:
    good = base64.b64encode(crop(12)).decode()
    body = client.post("/recognize", json={"images": ["data:", "data:image/png;base64,", good]}).json()
    assert [r["error"]["code"] if r["error"] else r["text"] for r in body["results"]] == [
        "invalid_base64",
        "invalid_base64",
        "12",
    ]


@pytest.mark.parametrize(
    ("authorization", "status"),
    [("Bearer s3cret", 200), ("bearer s3cret", 200), ("BEARER  s3cret", 200), ("s3cret", 401), ("Basic s3cret", 401)],
)
def test_the_bearer_scheme_is_case_insensitive_and_required(
    client: TestClient, authorization: str, status: int
) -> None:
    files = [("images", ("a.png", crop(9), "image/png"))]
    response = client.post("/recognize", files=files, headers={"X-API-Key": "", "Authorization": authorization})
    assert response.status_code == status


def test_readiness_details_only_for_callers_with_the_key(client: TestClient, backend: FakeBackend) -> None:
    backend.ready = False
    anonymous = client.get("/readyz", headers={"X-API-Key": ""}).json()
    assert anonymous["status"] == "not_ready" and "withdrawn" not in anonymous["detail"]
    assert "withdrawn" in client.get("/readyz").json()["detail"]
    assert "withdrawn" not in client.get("/v1/models", headers={"X-API-Key": ""}).text


def test_a_lexicon_picks_the_candidate_that_explains_the_reading(client: TestClient, tmp_path) -> None:
    files = [("images", (f"{w}.png", crop(w), "image/png")) for w in (40, 7)]
    body = client.post("/recognize", files=files, data={"lexicon": "41\n40\n77\n"}).json()
    assert [r["text"] for r in body["results"]] == ["40", "7"]  # the free reading stays
    assert body["results"][0]["lexicon_match"] == {"word": "40", "score": 1.0}
    assert body["results"][1]["lexicon_match"]["word"] == "77" and body["results"][1]["lexicon_match"]["score"] < 1
    as_json = client.post("/recognize", json={"images": [base64.b64encode(crop(40)).decode()], "lexicon": ["4O", "40"]})
    assert as_json.json()["results"][0]["lexicon_match"]["word"] == "40"
    assert client.post("/recognize", files=files).json()["results"][0]["lexicon_match"] is None


def test_named_lexicons_come_from_settings(backend: FakeBackend, tmp_path) -> None:
    (tmp_path / "codes.txt").write_text("# container codes\n12\n99\n")
    settings = Settings(lexicons={"codes": tmp_path / "codes.txt"})
    with TestClient(create_app(settings, backend)) as client:
        files = [("images", ("a.png", crop(12), "image/png"))]
        body = client.post("/recognize", files=files, data={"lexicon_name": "codes"}).json()
        assert body["results"][0]["lexicon_match"]["word"] == "12"
        refused = client.post("/recognize", files=files, data={"lexicon_name": "streets"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_lexicon"
        assert "no lexicon named 'streets' here; the server holds ['codes']" in refused.json()["error"]["message"]
        both = client.post(
            "/recognize",
            files=[("images", ("a.png", crop(77), "image/png"))],
            data={"lexicon_name": "codes", "lexicon": "77"},
        )
        assert both.json()["results"][0]["lexicon_match"] == {"word": "77", "score": 1.0}  # the two together
        unusable = client.post("/recognize", files=files, data={"lexicon": "!!!\n"}).json()["results"][0]
        assert unusable["text"] == "12" and unusable["lexicon_match"] is None  # nothing readable: no match
        schema = client.get("/openapi.json").json()["paths"]["/recognize"]["post"]["requestBody"]["content"]
        assert schema["application/json"]["schema"]["properties"]["lexicon_name"]["enum"] == ["codes"]


def test_api_docs_load_only_the_gateways_own_files(client: TestClient) -> None:
    """Swagger UI and ReDoc work on a network without a CDN, and without the key (they hold no data)."""
    for page in ("/docs", "/redoc"):
        html = client.get(page, headers={"X-API-Key": ""}).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/docs/static/") for a in assets), assets
        for asset in assets:
            assert client.get(asset, headers={"X-API-Key": ""}).status_code == 200
    assert client.get("/openapi.json", headers={"X-API-Key": ""}).status_code == 200
    assert client.get("/docs/static/../v1/models", headers={"X-API-Key": ""}).status_code in (401, 404)


def test_repeated_lexicon_fields_are_one_word_list(client: TestClient) -> None:
    files = [("images", ("40.png", crop(40), "image/png"))]
    body = client.post("/recognize", files=files, data={"lexicon": ["41", "40"]}).json()
    assert body["results"][0]["lexicon_match"] == {"word": "40", "score": 1.0}


def test_a_crop_over_the_pixel_budget_leaves_the_rest_of_it_to_the_others(backend: FakeBackend) -> None:
    """The budget holds two 100-wide crops' pixels: the third is refused, the small fourth still fits."""
    settings = Settings(max_request_pixels=2 * 100 * 32 + 20 * 32)
    with TestClient(create_app(settings, backend)) as client:
        files = [("images", (f"{i}.png", crop(w), "image/png")) for i, w in enumerate((100, 100, 100, 20))]
        results = client.post("/recognize", files=files).json()["results"]
    assert [r["text"] or r["error"]["code"] for r in results] == ["100", "100", "image_too_large", "20"]


def test_an_unexpected_failure_is_a_typed_500_that_is_counted_and_the_gateway_serves_on(
    client: TestClient, backend: FakeBackend
) -> None:
    backend.error = RuntimeError("a defect")
    response = client.post("/recognize", files=[("images", ("a.png", crop(9), "image/png"))])
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    assert response.headers["x-request-id"] == response.json()["request_id"]
    assert "a defect" not in response.text
    assert 'rare_http_request_duration_seconds_count{method="POST",route="/recognize",status="500"}' in (
        client.get("/metrics").text
    )
    backend.error = None
    assert client.post("/recognize", files=[("images", ("a.png", crop(9), "image/png"))]).status_code == 200


def test_a_json_lexicon_is_held_to_the_multipart_size(backend: FakeBackend) -> None:
    with TestClient(create_app(Settings(max_request_bytes=8 * 1024 * 1024), backend)) as client:
        images = [base64.b64encode(crop(9)).decode()]
        response = client.post("/recognize", json={"images": images, "lexicon": ["longer-words"] * 100_000})
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_body"
    assert "the lexicon holds more than 1048576 characters" in response.json()["error"]["message"]


def test_a_named_lexicon_no_request_could_use_stops_the_gateway_at_start(backend: FakeBackend, tmp_path) -> None:
    (tmp_path / "long.txt").write_text("fine\n" + "w" * 65 + "\n")
    with pytest.raises(LexiconError, match=r"RARE_LEXICONS\['long'\] .*a candidate word has 65 characters; at most 64"):
        create_app(Settings(lexicons={"long": tmp_path / "long.txt"}), backend)


class WidthSureBackend(FakeBackend):
    """The fake's reading, sure of itself in proportion to the columns the crop fills (a wide view: sure)."""

    async def infer(self, batch: np.ndarray) -> Answer:
        answer = await super().infer(batch)
        filled = (batch != 0).any(axis=(1, 2)).sum(axis=1)  # [N, 3, 32, 100] -> columns filled [N]
        sureness = np.repeat((filled / 100)[:, None], answer.ids.shape[1], axis=1).astype(np.float32)  # [N, 25]
        return Answer(answer.ids, sureness, answer.version)


def test_tall_crops_are_also_read_turned_when_the_model_says_so() -> None:
    """A crop 4.5x taller than wide fills 8 columns upright and all 100 turned: the turned reading is surer."""
    on = WidthSureBackend()
    on.spec = dataclasses.replace(on.spec, orientation=Orientation(min_aspect=1.5))
    files = [("images", ("tall.png", crop(20, height=90), "image/png")), ("images", ("w.png", crop(40), "image/png"))]
    with TestClient(create_app(Settings(), on)) as client:
        body = client.post("/recognize", files=files).json()
    assert [r["text"] for r in body["results"]] == ["100", "40"]
    assert on.batches == [4]  # one request, one batch: the tall crop's three views and the wide crop
    off = WidthSureBackend()  # the policy off (PaddleOCR imports): the tall crop is read once, as it is
    with TestClient(create_app(Settings(), off)) as client:
        body = client.post("/recognize", files=files).json()
    assert [r["text"] for r in body["results"]] == ["8", "40"] and off.batches == [2]


def test_crops_are_also_read_nudged_when_the_model_says_so_unless_nudges_are_off() -> None:
    """Trimmed 5 % top and bottom, a 40x32 crop fills 46 columns (padded 5 % each side, 44): the surest view wins;
    RARE_NUDGES=false reads one view per crop."""
    on = WidthSureBackend()
    on.spec = dataclasses.replace(on.spec, orientation=Orientation(nudges=[[0, -0.05], [0.05, 0]]))
    files = [("images", ("a.png", crop(40), "image/png")), ("images", ("b.png", crop(60), "image/png"))]
    with TestClient(create_app(Settings(), on)) as client:
        body = client.post("/recognize", files=files).json()
    assert [r["text"] for r in body["results"]] == ["46", "69"] and on.batches == [6]
    off = WidthSureBackend()
    off.spec = on.spec
    with TestClient(create_app(Settings(nudges=False), off)) as client:
        body = client.post("/recognize", files=files).json()
    assert [r["text"] for r in body["results"]] == ["40", "60"] and off.batches == [2]
