"""Stage-by-stage numeric parity with PaddleOCR's own outputs (fixture README tolerances)."""

import json

import numpy as np
import pytest
import torch

from rare.config import load_config
from rare.export.paddle import paddle_to_state_dict, read_pdparams
from rare.model import build_model
from tests.conftest import FIXTURES, MV3_CONFIG, R34_CONFIG


@pytest.fixture(scope="module")
def calib_model() -> torch.nn.Module:
    model = build_model(load_config(MV3_CONFIG).Architecture, 38)
    model.load_state_dict(paddle_to_state_dict(read_pdparams(FIXTURES / "rare_mv3_calib.pdparams"), model))
    return model.eval()


def _load(name: str) -> torch.Tensor:
    return torch.from_numpy(np.load(FIXTURES / f"{name}.npy"))


# stage, module path from its reference input, reference input, reference output, tolerance (max abs)
STAGES = [
    ("tps_ctrl_pts", "transform.loc_net", "inputs", "inter_mv3_calib_tps_ctrl_pts", 1e-5),
    ("tps_grid", "transform.grid_generator", "inter_mv3_calib_tps_ctrl_pts", "inter_mv3_calib_tps_grid", 5e-5),
    # grid rounding (~2e-5) times the steepest pixel gradients of the noise rows (~2 per pixel, 50 px per unit)
    ("tps_out", "transform", "inputs", "inter_mv3_calib_tps_out", 5e-3),
    ("backbone_out", "backbone", "inter_mv3_calib_tps_out", "inter_mv3_calib_backbone_out", 1e-3),
    ("neck_out", "neck", "inter_mv3_calib_backbone_out", "inter_mv3_calib_neck_out", 1e-5),
    ("head_out", "head", "inter_mv3_calib_neck_out", "outputs_mv3_calib", 1e-5),
]


@pytest.mark.parametrize(("stage", "module", "source", "target", "tol"), STAGES, ids=[s[0] for s in STAGES])
def test_stage_matches_paddleocr(
    calib_model: torch.nn.Module, stage: str, module: str, source: str, target: str, tol: float
) -> None:
    with torch.no_grad():
        out = calib_model.get_submodule(module)(_load(source)).numpy()
    reference = np.load(FIXTURES / f"{target}.npy")
    diff = np.abs(out - reference).max()
    print(f"{stage}: max abs diff {diff:.2e} (tolerance {tol:.0e})")
    assert out.shape == reference.shape and diff <= tol


def test_end_to_end_matches_paddleocr(calib_model: torch.nn.Module) -> None:
    with torch.no_grad():
        out = calib_model(_load("inputs")).numpy()
    reference = np.load(FIXTURES / "outputs_mv3_calib.npy")
    assert np.abs(out - reference).max() <= 2e-3
    assert (out.argmax(2) == reference.argmax(2)).all()


def test_initial_tps_is_papers_shear() -> None:
    """From scratch, C' = the initial fiducials gives x_src = x, y_src = 0.5 (y - x) (RARE_REFERENCE.md 3.1)."""
    model = build_model(load_config(MV3_CONFIG).Architecture, 38).eval()
    with torch.no_grad():
        grid = model.transform.grid_generator(model.transform.loc_net(torch.zeros(1, 3, 32, 100)))[0]
    assert grid[0, 0].tolist() == pytest.approx([-0.99, 0.010625], abs=1e-5)
    assert grid[31, 99].tolist() == pytest.approx([0.99, -0.010625], abs=1e-5)


@pytest.mark.parametrize(("config", "params_file"), [(MV3_CONFIG, "params_mv3.json"), (R34_CONFIG, "params_r34.json")])
def test_parameter_counts(config: object, params_file: str) -> None:
    info = json.loads((FIXTURES / params_file).read_text())
    model = build_model(load_config(config).Architecture, 38)
    weights = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert weights == info["num_trainable_parameters"]  # PaddleOCR counts the frozen ex_fc as trainable too
    assert weights + stats == info["num_parameters_incl_bn_stats"]


def test_r34_state_matches_paddleocr_key_for_key() -> None:
    """A .pdparams with exactly PaddleOCR's R34 keys and shapes converts with every key used and none missing."""
    info = json.loads((FIXTURES / "params_r34.json").read_text())
    rng = np.random.default_rng(0)
    canonical = {
        p["name"]: rng.standard_normal(p["shape"]).astype(np.float32) for p in info["params"] if p["kind"] != "alias"
    }
    params = {**canonical, **{p["name"]: canonical[p["alias_of"]] for p in info["params"] if p["kind"] == "alias"}}
    model = build_model(load_config(R34_CONFIG).Architecture, 38)
    state = paddle_to_state_dict(params, model)
    model.load_state_dict(state)
    assert torch.equal(state["head.generator.weight"], torch.from_numpy(canonical["head.generator.weight"].T))
    assert torch.equal(
        state["backbone.bb_1_0.short._batch_norm.running_var"],
        torch.from_numpy(canonical["backbone.bb_1_0.short._batch_norm._variance"]),
    )
    with torch.no_grad():
        assert model.eval()(torch.zeros(2, 3, 32, 100)).shape == (2, 25, 38)
