from pathlib import Path

import pytest

from rare.config import ConfigError, load_config, parse_overrides
from tests.conftest import MV3_CONFIG, R34_CONFIG


def test_both_configs_load_with_paddleocr_values() -> None:
    mv3 = load_config(MV3_CONFIG)
    r34 = load_config(R34_CONFIG)
    assert mv3.Architecture.Backbone.name == "MobileNetV3" and mv3.Architecture.Backbone.scale == 0.5
    assert mv3.Architecture.Transform.model_name == "small" and mv3.Architecture.Neck.hidden_size == 96
    assert r34.Architecture.Backbone.name == "ResNet" and r34.Architecture.Transform.model_name == "large"
    assert r34.Architecture.Head.hidden_size == 256 and r34.Optimizer.regularizer.factor == 0.0
    assert mv3.Optimizer.lr.learning_rate == 0.0005 and mv3.Global.eval_batch_step == [0, 2000]


def test_overrides_are_typed() -> None:
    cfg = load_config(
        MV3_CONFIG,
        [
            "Global.epoch_num=10",
            "Optimizer.lr.learning_rate=1e-3",
            "Global.eval_batch_step=[5, 50]",
            "Loss.teacher_forcing=true",
        ],
    )
    assert cfg.Global.epoch_num == 10 and cfg.Optimizer.lr.learning_rate == 0.001
    assert cfg.Global.eval_batch_step == [5, 50] and cfg.Loss.teacher_forcing is True


def test_int_is_accepted_for_float_but_not_the_reverse() -> None:
    assert load_config(MV3_CONFIG, ["Optimizer.lr.learning_rate=1"]).Optimizer.lr.learning_rate == 1.0
    with pytest.raises(ConfigError, match=r"Global.epoch_num: expected int, got float 2.5"):
        load_config(MV3_CONFIG, ["Global.epoch_num=2.5"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("Global.epoch_nums=3", r"Global: unknown key\(s\) 'epoch_nums'"),
        ("Global.epoch_num=ten", r"Global.epoch_num: expected int, got str 'ten'"),
        ("Architecture.Backbone.name=VGG", r"Architecture.Backbone.name: 'VGG' is not one of"),
        ("Loss.reduction=mean", r"Loss.reduction: 'mean' is not one of \['sum', 'masked_mean'\]"),
        ("Bogus.key=1", r"top level: unknown key\(s\) 'Bogus'"),
        ("Global.use_gpu=maybe", r"Global.use_gpu: expected bool"),
        ("noequals", r"expected Section.key=value"),
        ("Train.dataset.augment=strng", r"Train.dataset.augment: 'strng' is none of: bool, 'mild', 'strong'"),
    ],
)
def test_bad_overrides_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(MV3_CONFIG, [override])


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("Global: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


PADDLE_TRANSFORMS = """    transforms:
      - DecodeImage: {img_mode: BGR, channel_first: false}
      - AttnLabelEncode:
      - RecResizeImg: {image_shape: [3, 32, 100]}
      - KeepKeys: {keep_keys: [image, label, length]}
"""


def test_paddleocr_stock_config_keys_load(tmp_path: Path) -> None:
    """PaddleOCR's own YAML (its transforms chain and bookkeeping keys) is accepted as is."""
    text = MV3_CONFIG.read_text()
    train_dir = "    data_dir: ./train_data/data_lmdb_release/training/\n"
    text = text.replace(train_dir, train_dir + PADDLE_TRANSFORMS)
    text = text.replace(
        "  use_space_char: false\n", "  use_space_char: false\n  use_visualdl: false\n  infer_img: x.png\n"
    )
    stock = tmp_path / "paddle.yml"
    stock.write_text(text)
    cfg = load_config(stock)
    assert cfg.Train.dataset.transforms is not None and cfg.Global.infer_img == "x.png"


def test_list_index_override() -> None:
    cfg = load_config(MV3_CONFIG, ["Global.eval_batch_step.1=500"])
    assert cfg.Global.eval_batch_step == [0, 500]
    with pytest.raises(ConfigError, match="is not an index"):
        load_config(MV3_CONFIG, ["Global.eval_batch_step.7=500"])


def test_parse_overrides_uses_yaml_scalars() -> None:
    assert parse_overrides(["a.b=1", "a.c=x", "a.d=", "a.e=[1, 2]"]) == [
        ("a.b", 1),
        ("a.c", "x"),
        ("a.d", None),
        ("a.e", [1, 2]),
    ]
