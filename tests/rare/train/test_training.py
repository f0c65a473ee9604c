"""A few real training steps on real crops, checkpoints, resume, eval numbers, and rare eval/predict."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from rare.export.checkpoint import read_checkpoint
from rare.train.evaluate import eval_from_config
from rare.train.loop import train_from_config
from rare.train.loss import attention_loss
from tests.conftest import MV3_CONFIG, REAL_VAL

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def tiny_config(tmp_path: Path, **global_overrides: object) -> Path:
    cfg = yaml.safe_load(MV3_CONFIG.read_text())
    cfg["Global"].update(
        {
            "max_iters": 4,
            "eval_batch_step": [0, 2],
            "save_model_dir": str(tmp_path / "out"),
            "print_batch_step": 1,
            **global_overrides,
        }
    )
    cfg["Train"] = {
        "dataset": {"name": "SimpleDataSet", "label_file_list": [str(REAL_VAL / "SVT" / "gt.txt")], "augment": True},
        "loader": {"batch_size_per_card": 4, "num_workers": 0},
    }
    cfg["Eval"] = {
        "dataset": {"name": "SimpleDataSet", "label_file_list": [str(REAL_VAL / "SVT" / "gt.txt")]},
        "loader": {"batch_size_per_card": 32, "num_workers": 0},
    }
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_loss_reductions() -> None:
    logits = torch.zeros(2, 25, 38)
    labels = torch.zeros(2, 25, dtype=torch.long)
    lengths = torch.tensor([1, 3])
    per_step = torch.log(torch.tensor(38.0))
    assert attention_loss(logits, labels, lengths, "sum") == pytest.approx(float(per_step * 50))
    assert attention_loss(logits, labels, lengths, "masked_mean") == pytest.approx(float(per_step))


@pytest.mark.parametrize("teacher_forcing", [True, False], ids=["teacher_forcing", "free_running"])
def test_train_writes_checkpoints_and_logs_then_resumes(tmp_path: Path, teacher_forcing: bool) -> None:
    config = tiny_config(tmp_path)
    mode = [
        f"Loss.teacher_forcing={str(teacher_forcing).lower()}",
        f"Loss.reduction={'masked_mean' if teacher_forcing else 'sum'}",
    ]
    train_from_config(str(config), mode)
    out = tmp_path / "out"
    latest = read_checkpoint(out / "latest.pt")
    assert latest["step"] == 4 and "optimizer" in latest and (out / "best_accuracy.pt").is_file()
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4] and all(float(r["loss"]) > 0 for r in rows)
    evals = list(csv.DictReader((out / "eval_log.csv").open()))
    assert {r["step"] for r in evals} == {"2", "4"} and {r["dataset"] for r in evals} == {"SVT", "overall"}

    train_from_config(str(config), [*mode, f"Global.checkpoints={out / 'latest.pt'}", "Global.max_iters=6"])
    resumed = read_checkpoint(out / "latest.pt")
    assert resumed["step"] == 6
    moved = any(not torch.equal(resumed["state_dict"][k], latest["state_dict"][k]) for k in latest["state_dict"])
    assert moved


def test_pretrained_from_paddle_pdparams_and_eval_numbers(tmp_path: Path, calib_checkpoint: Path) -> None:
    """Initializing from a PaddleOCR .pdparams works, and eval reproduces its (near-zero) accuracy exactly."""
    from tests.conftest import FIXTURES

    config = tiny_config(tmp_path, pretrained_model=str(FIXTURES / "rare_mv3_calib.pdparams"))
    metrics = eval_from_config(str(config), [])
    assert metrics["SVT"].count == 25 and metrics["SVT"].acc == 0.0 and 0.0 <= metrics["SVT"].norm_edit_dis < 0.5
    again = eval_from_config(str(config), [f"Global.pretrained_model={calib_checkpoint}"])
    assert again["SVT"].norm_edit_dis == pytest.approx(metrics["SVT"].norm_edit_dis)


def test_cli_eval_and_predict(tmp_path: Path, calib_checkpoint: Path) -> None:
    config = tiny_config(tmp_path)
    run = [sys.executable, "-m", "rare"]
    result = subprocess.run(
        [*run, "eval", "-c", str(config), "-o", f"Global.pretrained_model={calib_checkpoint}", "--json", "m.json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and "| SVT | 25 | 0 |" in result.stdout, result.stderr
    table = json.loads((tmp_path / "m.json").read_text())
    assert table["SVT"]["samples"] == table["overall"]["samples"] == 25 and table["SVT"]["acc"] == 0.0
    result = subprocess.run(
        [
            *run,
            "predict",
            "-c",
            str(config),
            "-o",
            f"Global.pretrained_model={calib_checkpoint}",
            f"Global.infer_img={REAL_VAL / 'SVT' / 'images'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.count("Predicts of ") == 25
    result = subprocess.run(
        [*run, "eval", "-c", str(config), "-o", "Global.pretrained_model=/nope/x.pt"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "no such checkpoint" in result.stderr


def test_torchrun_two_processes_train_in_step(tmp_path: Path) -> None:
    """DDP over gloo: two ranks, one log and one set of checkpoints (rank 0), the same step count."""
    config = tiny_config(tmp_path, max_iters=2, eval_batch_step=[0, 2])
    torchrun = Path(sys.executable).parent / "torchrun"
    result = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "rare", "train", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    assert read_checkpoint(out / "latest.pt")["step"] == 2
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2]  # rank 0 alone writes the log
    assert result.stderr.count("training to step 2 on 2 process(es)") == 1
