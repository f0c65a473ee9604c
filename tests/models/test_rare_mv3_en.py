"""The shipped model: complete, small, as accurate as its card says, and what the gateway serves by default."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from rare.export.checkpoint import read_checkpoint
from rare.images import read_image
from rare.labelfile import read_label_file
from rare.metrics import RecMetric
from rare.onnx_runtime import OnnxRecognizer
from tests.conftest import REAL_VAL, REPO
from tests.service.conftest import Gateway, start_gateway, stop_gateway

MODEL_DIR = REPO / "models" / "rare_mv3_en"
FOLDERS = ("IC15", "IIIT5K", "SVT")
NUDGES = [[0, -0.05], [-0.03, 0], [0.05, 0]]  # trim 5 % of the height, trim 3 % of the width, pad 5 % of the width


@pytest.fixture(scope="module")
def recognizer() -> OnnxRecognizer:
    return OnnxRecognizer(MODEL_DIR, threads=1)  # also checks rare.json against the graph


def test_the_model_directory_is_complete_and_small() -> None:
    names = {p.name for p in MODEL_DIR.iterdir()}
    assert {"model.onnx", "rare.json", "model.pt", "MODEL.md", "accuracy.json"} <= names
    assert sum(p.stat().st_size for p in MODEL_DIR.iterdir()) <= 20 * 1024 * 1024
    payload = read_checkpoint(MODEL_DIR / "model.pt")
    assert "optimizer" not in payload and payload["config"]["Architecture"]["Backbone"]["name"] == "MobileNetV3"


def test_onnx_reproduces_the_card_on_real_val(recognizer: OnnxRecognizer) -> None:
    """accuracy.json holds `rare eval` of model.pt (PyTorch); ONNX Runtime must give the same per folder."""
    card = json.loads((MODEL_DIR / "accuracy.json").read_text())
    for folder in FOLDERS:
        entries = read_label_file(REAL_VAL / folder / "gt.txt")
        metric = RecMetric()
        for start in range(0, len(entries), 64):
            chunk = entries[start : start + 64]
            found = recognizer.recognize([read_image(e.path) for e in chunk])
            metric.update([r.text for r in found], [e.label for e in chunk])
        assert metric.count == card[folder]["samples"]
        assert metric.acc == pytest.approx(card[folder]["acc"], abs=0.003), folder  # one crop of 446 is 0.0022


@pytest.fixture(scope="module")
def default_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The gateway as `make serve` starts it: no RARE_MODEL_DIR, so the shipped model; on ONNX Runtime FP32, so that
    its readings compare exactly with the library's (the OpenVINO BF16 engine `auto` may pick is gated to lose no
    accuracy on real_val, yet may read a single crop differently)."""
    env = {"RARE_ORT_THREADS": "1", "RARE_ENGINE": "onnxruntime"}
    gw = start_gateway(env, tmp_path_factory.mktemp("default") / "gateway.log", "/readyz")
    yield gw
    stop_gateway(gw)


def test_the_gateway_serves_it_by_default(default_gateway: Gateway, recognizer: OnnxRecognizer) -> None:
    entries = read_label_file(REAL_VAL / "IIIT5K" / "gt.txt")[:16]
    parts = [("images", (e.path.name, e.path.read_bytes(), "image/png")) for e in entries]
    body = httpx.post(default_gateway.url + "/recognize", files=parts, timeout=60).json()
    assert body["model"]["name"] == "rare_mv3_en"
    expected = recognizer.recognize([read_image(e.path) for e in entries])
    assert [r["text"] for r in body["results"]] == [r.text for r in expected]


def test_model_card_states_the_accuracy_it_measured() -> None:
    card = json.loads((MODEL_DIR / "accuracy.json").read_text())
    text = (MODEL_DIR / "MODEL.md").read_text()
    assert f"{100 * card['overall']['acc']:.1f}" in text


@pytest.mark.parametrize("graph", sorted((REPO / "models").glob("*/model.onnx")), ids=lambda p: p.parent.name)
def test_shipped_graphs_carry_no_vanishing_weights(graph) -> None:
    """Subnormal or vanishing weights put every CPU kernel that touches them on the slow denormal path."""
    import onnx

    from rare.graph import count_vanishing

    assert count_vanishing(onnx.load(str(graph))) == 0


def test_it_reads_tall_crops_turned_through_the_gateway(default_gateway: Gateway) -> None:
    """The shipped rare.json turns the policy on; the gateway, on the shipped model by default, reads a real
    vertical IC15 crop (327x92 px) right only because of it."""
    spec = json.loads((MODEL_DIR / "rare.json").read_text())
    assert spec["orientation"] == {"min_aspect": 1.5, "margin": 0.2, "nudges": NUDGES}
    assert read_checkpoint(MODEL_DIR / "model.pt")["config"]["Global"]["orientation"] == spec["orientation"]
    tall = REAL_VAL / "IC15" / "images" / "word_3500.png"
    body = httpx.post(default_gateway.url + "/recognize", files=[("images", (tall.name, tall.read_bytes()))]).json()
    assert body["results"][0]["text"] == "forever"


def test_it_is_served_with_the_resize_it_reads_best_with() -> None:
    spec = json.loads((MODEL_DIR / "rare.json").read_text())
    assert spec["resize"] == "area"
    assert read_checkpoint(MODEL_DIR / "model.pt")["config"]["Global"]["resize"] == "area"


# IC15 real_val crops far taller than wide that the model reads right only turned (rare.orientation)
TALL_CROPS = {"word_3500.png": "FOREVER", "word_3760.png": "THE"}


def tall_crop_config(tmp_path) -> str:
    """The shipped model's training config, evaluated on the tall crops alone."""
    import shutil

    import yaml

    (tmp_path / "TALL").mkdir()
    for name in TALL_CROPS:
        shutil.copy(REAL_VAL / "IC15" / "images" / name, tmp_path / "TALL" / name)
    (tmp_path / "TALL" / "gt.txt").write_text("".join(f"{name}\t{label}\n" for name, label in TALL_CROPS.items()))
    cfg = yaml.safe_load((REPO / "configs" / "rare_mv3_en_stage6.yml").read_text())
    cfg["Global"]["pretrained_model"] = str(MODEL_DIR / "model.pt")
    cfg["Eval"]["dataset"]["label_file_list"] = [str(tmp_path / "TALL" / "gt.txt")]
    (tmp_path / "tall.yml").write_text(yaml.safe_dump(cfg))
    return str(tmp_path / "tall.yml")


def test_rare_eval_and_predict_read_tall_crops_turned_when_the_policy_is_on(tmp_path, capsys) -> None:
    from rare.train.evaluate import eval_from_config
    from rare.train.predict import predict_from_config

    config = tall_crop_config(tmp_path)
    assert eval_from_config(config, ["Global.orientation.min_aspect=1.5"])["TALL"].acc == 1.0
    assert eval_from_config(config, ["Global.orientation.min_aspect=0"])["TALL"].acc == 0.0
    capsys.readouterr()
    predict_from_config(config, ["Global.orientation.min_aspect=1.5", f"Global.infer_img={tmp_path / 'TALL'}"])
    printed = capsys.readouterr().out
    assert all(f"{name}: ('{label.lower()}'" in printed for name, label in TALL_CROPS.items()), printed
