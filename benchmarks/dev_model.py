"""Make a development model directory (model.onnx + rare.json) when models/rare_mv3_en is not there yet.

By default from the PaddleOCR calibration weights of the test fixtures (same architecture and cost as the shipped
MobileNetV3 model, but it reads no text: use it for speed, never for accuracy). ``--checkpoint`` exports a
project checkpoint instead (e.g. ``output/rare_mv3_en/best_accuracy.pt`` with ``--config configs/rare_mv3_en.yml``).

    python -m benchmarks.dev_model --out .cache/bench/dev_model
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import REPO, SHARED, WORK_DIR
from rare.export.commands import convert_paddle, export

CALIBRATION = SHARED / "fixtures" / "paddle_rare" / "rare_mv3_calib.pdparams"
MV3_CONFIG = REPO / "configs" / "rec_mv3_tps_bilstm_att.yml"


def make_model_dir(
    out: Path, checkpoint: Path | None = None, config: Path = MV3_CONFIG, name: str = "rare_dev"
) -> Path:
    """Export ``checkpoint`` (default: the converted calibration weights) to ``out``; returns ``out``."""
    with tempfile.TemporaryDirectory(prefix="rare_dev_model_") as scratch:
        if checkpoint is None or checkpoint.suffix == ".pdparams":
            converted = Path(scratch) / "converted.pt"
            convert_paddle(str(config), str(checkpoint or CALIBRATION), str(converted), [])
            checkpoint = converted
        overrides = [
            f"Global.pretrained_model={checkpoint}",
            f"Global.save_inference_dir={out}",
            f"Global.model_name={name}",
        ]
        export(str(config), overrides)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=WORK_DIR / "dev_model")
    parser.add_argument("--checkpoint", type=Path, default=None, help="project .pt or PaddleOCR .pdparams")
    parser.add_argument("--config", type=Path, default=MV3_CONFIG)
    parser.add_argument("--name", default="rare_dev", help="model_name written into rare.json")
    args = parser.parse_args()
    out = make_model_dir(args.out, args.checkpoint, args.config, args.name)
    print(f"wrote {out}/model.onnx and {out}/rare.json")


if __name__ == "__main__":
    main()
