"""The configuration schema: PaddleOCR's sections and keys, each declared with its type and default.

Keys that PaddleOCR configs carry but that change nothing here (``use_visualdl``, ``infer_img``, Head ``l2_decay``,
...) are accepted so that PaddleOCR's own YAML loads; keys marked "ours" are this project's additions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rare.orientation import Orientation
from rare.render_options import RenderOptions


@dataclass
class GlobalConfig:
    use_gpu: bool = True
    epoch_num: int = 72
    log_smooth_window: int = 20
    print_batch_step: int = 10
    save_model_dir: str = "./output/rec/rare/"
    save_epoch_step: int = 3
    eval_batch_step: list[int] = field(default_factory=lambda: [0, 2000])
    cal_metric_during_train: bool = True
    pretrained_model: str | None = None
    checkpoints: str | None = None
    save_inference_dir: str | None = None
    use_visualdl: bool = False
    infer_img: str | None = None
    character_dict_path: str | None = None
    character_type: str | None = None
    max_text_length: int = 25
    infer_mode: bool = False
    use_space_char: bool = False
    save_res_path: str | None = None
    distributed: bool = False
    use_amp: bool = True  # ours: mixed precision on CUDA (ignored on CPU)
    seed: int = 0  # ours
    max_iters: int = 0  # ours: stop after this many iterations (0: run epoch_num epochs)
    device: Literal["auto", "cpu", "cuda"] = "auto"  # ours
    model_name: str = "rare"  # ours: the name a served model carries
    model_version: str = "1"  # ours
    # ours: how crops taller than the input are shrunk (rare.preprocess); "area" does not alias, "bilinear" is
    # PaddleOCR's. Training, evaluation, export (rare.json) and serving all use the model's own choice.
    resize: Literal["bilinear", "area"] = "bilinear"
    # ours: whether crops much taller than wide are also read turned a quarter both ways, and every crop with its box
    # nudged (rare.orientation; both off by default). Evaluation, export (rare.json) and serving read crops as the
    # model's own policy says.
    orientation: Orientation = field(default_factory=Orientation)


@dataclass
class TransformConfig:
    name: Literal["TPS"] = "TPS"
    num_fiducial: int = 20
    loc_lr: float = 0.1
    model_name: Literal["small", "large"] = "small"


@dataclass
class BackboneConfig:
    name: Literal["ResNet", "MobileNetV3"] = "MobileNetV3"  # the keys of rare.model.rare.BACKBONES
    layers: Literal[34] = 34
    model_name: Literal["large"] = "large"
    scale: float = 0.5


@dataclass
class NeckConfig:
    name: Literal["SequenceEncoder"] = "SequenceEncoder"
    encoder_type: Literal["rnn"] = "rnn"
    hidden_size: int = 96


@dataclass
class HeadConfig:
    name: Literal["AttentionHead"] = "AttentionHead"
    hidden_size: int = 96
    l2_decay: float | None = None  # accepted for PaddleOCR parity; PaddleOCR ignores it too


@dataclass
class ArchitectureConfig:
    model_type: Literal["rec"] = "rec"
    algorithm: Literal["RARE"] = "RARE"
    Transform: TransformConfig = field(default_factory=TransformConfig)
    Backbone: BackboneConfig = field(default_factory=BackboneConfig)
    Neck: NeckConfig = field(default_factory=NeckConfig)
    Head: HeadConfig = field(default_factory=HeadConfig)


@dataclass
class LossConfig:
    name: Literal["AttentionLoss"] = "AttentionLoss"
    # ours. PaddleOCR trains free-running (the decoder feeds back its own argmax) with a loss summed over all 25
    # steps; the alternative feeds the ground truth (teacher forcing) and averages over the label's real steps.
    teacher_forcing: bool = False
    reduction: Literal["sum", "masked_mean"] = "sum"


@dataclass
class LRConfig:
    name: Literal["Const", "Cosine"] = "Const"
    learning_rate: float = 0.0005
    warmup_epoch: float = 0.0
    warmup_iters: int = 0  # ours: warmup in iterations (used when warmup_epoch is 0)


@dataclass
class RegularizerConfig:
    name: Literal["L2"] = "L2"
    factor: float = 0.0


@dataclass
class OptimizerConfig:
    name: Literal["Adam", "AdamW"] = "Adam"
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    lr: LRConfig = field(default_factory=LRConfig)
    regularizer: RegularizerConfig = field(default_factory=RegularizerConfig)
    clip_norm: float | None = None  # ours: global gradient-norm clipping


@dataclass
class PostProcessConfig:
    name: Literal["AttnLabelDecode"] = "AttnLabelDecode"
    character_dict_path: str | None = None
    use_space_char: bool | None = None
    stop_at_eos: bool = True  # ours: PaddleOCR never stops at eos (see the codec)


@dataclass
class MetricConfig:
    name: Literal["RecMetric"] = "RecMetric"
    main_indicator: Literal["acc", "norm_edit_dis"] = "acc"
    ignore_space: bool = True
    is_filter: bool = False


@dataclass
class SynthConfig(RenderOptions):
    """The synthetic renderer's options (rare.render_options, ours) and the seed of its stream."""

    seed: int = 0


@dataclass
class DatasetConfig:
    """One data source, or a mix of sources (``MultiDataSet`` with ``sources`` and per-source ``weight``)."""

    name: Literal["LMDBDataSet", "SimpleDataSet", "SynthDataSet", "MultiDataSet"] = "SimpleDataSet"
    data_dir: str | list[str] = ""
    label_file_list: list[str] = field(default_factory=list)
    ratio_list: list[float] = field(default_factory=lambda: [1.0])
    delimiter: str = "\t"
    transforms: list[Any] | None = (
        None  # PaddleOCR's op list; must be the RARE chain (rare.data.build.check_transforms)
    )
    weight: float = 1.0  # ours: share of this source in a MultiDataSet batch
    num_samples: int = 0  # ours: samples per epoch for SynthDataSet / MultiDataSet (0: sum of finite sources)
    # ours: photometric/geometric augmentation of real crops: "mild" (true means mild), "strong" (rare.data.augment)
    augment: bool | Literal["mild", "strong"] = False
    synth: SynthConfig = field(default_factory=SynthConfig)
    sources: list[DatasetConfig] = field(default_factory=list)


@dataclass
class LoaderConfig:
    shuffle: bool = True
    batch_size_per_card: int = 256
    drop_last: bool = True
    num_workers: int = 4
    use_shared_memory: bool = True


@dataclass
class SplitConfig:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    loader: LoaderConfig = field(default_factory=LoaderConfig)


@dataclass
class Config:
    Global: GlobalConfig = field(default_factory=GlobalConfig)
    Architecture: ArchitectureConfig = field(default_factory=ArchitectureConfig)
    Loss: LossConfig = field(default_factory=LossConfig)
    Optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    PostProcess: PostProcessConfig = field(default_factory=PostProcessConfig)
    Metric: MetricConfig = field(default_factory=MetricConfig)
    Train: SplitConfig = field(default_factory=SplitConfig)
    Eval: SplitConfig = field(default_factory=lambda: SplitConfig(loader=LoaderConfig(shuffle=False, drop_last=False)))
