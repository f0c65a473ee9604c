"""Build datasets from the ``Train``/``Eval`` config sections."""

from __future__ import annotations

from rare.codec import LabelCodec
from rare.config import ConfigError
from rare.config_schema import DatasetConfig
from rare.data.datasets import LabelFileSource, LmdbSource, RecDataset, SynthSource
from rare.data.lmdb_io import find_lmdbs
from rare.orientation import Orientation
from rare.preprocess import IMAGE_SHAPE

TRANSFORM_CHAIN = ("DecodeImage", "AttnLabelEncode", "RecResizeImg", "KeepKeys")


def sources_of(cfg: DatasetConfig, seed: int) -> list:
    """The sources one (non-mixed) dataset entry names."""
    check_transforms(cfg)
    dirs = cfg.data_dir if isinstance(cfg.data_dir, list) else [cfg.data_dir]
    if cfg.name == "LMDBDataSet":
        paths = [p for d in dirs for p in find_lmdbs(d)]
        if not paths:
            raise ConfigError(f"LMDBDataSet: no LMDB (data.mdb) under {dirs}")
        return [LmdbSource(p) for p in paths]
    if cfg.name == "SimpleDataSet":
        if not cfg.label_file_list:
            raise ConfigError("SimpleDataSet needs label_file_list")
        ratios = (
            cfg.ratio_list
            if len(cfg.ratio_list) == len(cfg.label_file_list)
            else [cfg.ratio_list[0]] * len(cfg.label_file_list)
        )
        return [
            LabelFileSource(f, dirs[0] or None, cfg.delimiter, r, seed)
            for f, r in zip(cfg.label_file_list, ratios, strict=True)
        ]
    if cfg.name == "SynthDataSet":
        if cfg.num_samples <= 0:
            raise ConfigError("SynthDataSet needs num_samples > 0 (images per epoch)")
        return [SynthSource(cfg.num_samples, cfg.synth.seed, cfg.synth)]
    raise ConfigError(f"{cfg.name} cannot be a source of a MultiDataSet")


def check_transforms(cfg: DatasetConfig) -> None:
    """PaddleOCR configs list their op chain; RARE's is fixed, so only that chain (with shape 3,32,100) is valid."""
    if cfg.transforms is None:
        return
    names = [next(iter(op)) if isinstance(op, dict) else op for op in cfg.transforms]
    if tuple(names) != TRANSFORM_CHAIN:
        raise ConfigError(f"transforms: RARE uses exactly {list(TRANSFORM_CHAIN)}, got {names}")
    resize = cfg.transforms[2].get("RecResizeImg") or {}
    if list(resize.get("image_shape", IMAGE_SHAPE)) != list(IMAGE_SHAPE):
        raise ConfigError(
            f"transforms: RecResizeImg.image_shape must be {list(IMAGE_SHAPE)} (the TPS grid is built for it)"
        )


def build_train_dataset(cfg: DatasetConfig, codec: LabelCodec, seed: int, resize: str = "bilinear") -> RecDataset:
    if cfg.name != "MultiDataSet":
        sources = sources_of(cfg, seed)
        return RecDataset(sources, codec, None, cfg.num_samples, [cfg.augment] * len(sources), seed, resize)
    if not cfg.sources:
        raise ConfigError("MultiDataSet needs sources")
    sources, weights, augment = [], [], []
    for sub in cfg.sources:
        subs = sources_of(sub, seed)
        sources += subs
        total = sum(len(s) for s in subs)  # within one entry, every sample is equally likely
        weights += [sub.weight * len(s) / total for s in subs]
        augment += [sub.augment] * len(subs)
    total = cfg.num_samples or sum(len(s) for s in sources)
    return RecDataset(sources, codec, weights, total, augment, seed, resize)


def build_eval_datasets(
    cfg: DatasetConfig, codec: LabelCodec, resize: str = "bilinear", orientation: Orientation | None = None
) -> dict[str, RecDataset]:
    """One dataset per LMDB / label file, so evaluation reports a row each; tall crops are read as the model's
    ``orientation`` policy says (off by default)."""
    entries = cfg.sources if cfg.name == "MultiDataSet" else [cfg]
    out: dict[str, RecDataset] = {}
    for entry in entries:
        for source in sources_of(entry, 0):
            name = source.name if source.name not in out else f"{source.name}_{len(out)}"
            out[name] = RecDataset([source], codec, resize=resize, orientation=orientation)
    return out
