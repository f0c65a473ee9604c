"""Training/evaluation datasets: sources (LMDB, label files, synthetic) -> preprocessed, encoded samples.

A source yields decoded BGR crops and raw labels. :class:`RecDataset` turns a list of sources into samples for the
model, either concatenated (every sample once per epoch) or mixed by weight (each index draws its source at random,
deterministically from seed, epoch and index). A sample that cannot be decoded, or whose label is empty or too long
after normalization, becomes a :class:`Skipped` marker: the collate function drops it and counts it by reason, so
a bad file never stops a run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from rare.codec import NUM_STEPS, LabelCodec
from rare.data.augment import Augmenter
from rare.data.lmdb_io import LmdbReader
from rare.images import ImageDecodeError, decode_image, read_image
from rare.labelfile import dataset_name, read_label_file
from rare.orientation import Orientation
from rare.preprocess import IMAGE_SHAPE, ImageError, preprocess
from rare.render_options import RenderOptions


class Source(Protocol):
    name: str

    def __len__(self) -> int: ...

    def load(self, index: int, epoch: int) -> tuple[np.ndarray | None, str | None]: ...


@dataclass(frozen=True)
class Skipped:
    reason: str  # "unreadable" or "bad_label"


class LmdbSource:
    """One LMDB of the MJSynth/SynthText release layout."""

    def __init__(self, path: str | Path) -> None:
        self.reader = LmdbReader(path)
        self.name = Path(path).name

    def __len__(self) -> int:
        return len(self.reader)

    def load(self, index: int, epoch: int) -> tuple[np.ndarray | None, str | None]:
        data, label = self.reader[index]
        if data is None:
            return None, label
        try:
            return decode_image(data), label
        except (ImageDecodeError, ImageError):
            return None, label


class LabelFileSource:
    """A PaddleOCR SimpleDataSet label file; ``ratio`` < 1 keeps that fraction of its lines (seeded)."""

    def __init__(
        self,
        label_file: str | Path,
        data_dir: str | Path | None = None,
        delimiter: str = "\t",
        ratio: float = 1.0,
        seed: int = 0,
    ) -> None:
        entries = read_label_file(label_file, data_dir or None, delimiter)
        if ratio < 1.0:
            keep = np.random.default_rng(seed).permutation(len(entries))[: max(1, round(len(entries) * ratio))]
            entries = [entries[i] for i in sorted(keep)]
        self.entries = entries
        self.name = dataset_name(label_file)

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, index: int, epoch: int) -> tuple[np.ndarray | None, str | None]:
        entry = self.entries[index]
        try:
            return read_image(entry.path), entry.label
        except (ImageDecodeError, ImageError):
            return None, entry.label


class SynthSource:
    """The synthetic renderer as a source: a fresh set of ``num_samples`` images every epoch."""

    def __init__(self, num_samples: int, seed: int = 0, options: RenderOptions | None = None) -> None:
        from rare.data.synth_dataset import SynthDataset

        self.synth = SynthDataset(num_samples, seed, options)
        self.num_samples = num_samples
        self.name = "synth"

    def __len__(self) -> int:
        return self.num_samples

    def load(self, index: int, epoch: int) -> tuple[np.ndarray | None, str | None]:
        return self.synth[epoch * self.num_samples + index]


class RecDataset(Dataset):
    """Sources -> dicts ``{image: float32 [3, 32, 100], label: int64 [25], length: int}`` or :class:`Skipped`.

    With an ``orientation`` policy that reads more than one view (evaluation of a model that has one), a sample also
    carries ``views``: float32 [V, 3, 32, 100], its other views: nudged, and a tall crop turned both ways
    (:mod:`rare.orientation`)."""

    def __init__(
        self,
        sources: list[Source],
        codec: LabelCodec,
        weights: list[float] | None = None,
        num_samples: int = 0,
        augment: list[bool | str] | None = None,
        seed: int = 0,
        resize: str = "bilinear",
        orientation: Orientation | None = None,
    ) -> None:
        if not sources:
            raise ValueError("a dataset needs at least one source")
        self.sources = sources
        self.codec = codec
        self.sizes = [len(s) for s in sources]
        self.offsets = np.cumsum([0, *self.sizes])
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64) / sum(weights)
        self.length = num_samples or int(self.offsets[-1])
        levels = augment or [False] * len(sources)
        self.augmenters = [Augmenter("mild" if a is True else a) if a else None for a in levels]
        self.seed = seed
        self.resize = resize
        self.orientation = orientation or Orientation()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Mixed datasets draw new sources and synthetic images each epoch (call before building the iterator)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def locate(self, index: int) -> tuple[int, int]:
        """Which source and which of its samples ``index`` stands for in this epoch."""
        if self.weights is None:
            src = int(np.searchsorted(self.offsets, index, side="right") - 1)
            return src, index - int(self.offsets[src])
        rng = np.random.default_rng([self.seed, self.epoch, index])
        src = int(rng.choice(len(self.sources), p=self.weights))
        return src, int(rng.integers(self.sizes[src]))

    def __getitem__(self, index: int) -> dict | Skipped:
        src, inner = self.locate(index)
        image, text = self.sources[src].load(inner, self.epoch)
        if image is None:
            return Skipped("unreadable")
        label = self.codec.encode(text) if text is not None else None
        if label is None:
            return Skipped("bad_label")
        if self.augmenters[src] is not None:
            image = self.augmenters[src](image)
        length = int(np.flatnonzero(label == self.codec.eos)[0]) - 1
        first, *others = (preprocess(view, resize=self.resize) for view in self.orientation.views(image))
        sample = {"image": first, "label": label, "length": length, "text": text}
        return {**sample, "views": np.stack(others)} if others else sample


@dataclass
class Batch:
    """What the loader yields: the good samples stacked, and the skipped ones counted by reason."""

    image: torch.Tensor  # float32 [N, 3, 32, 100]
    label: torch.Tensor  # int64 [N, 25]: sos, characters, eos, then sos (rare.codec)
    length: torch.Tensor  # int64 [N]: characters per label
    text: list[str]  # the labels as read, for accuracy
    skipped: dict[str, int]  # "unreadable" / "bad_label" -> count
    views: torch.Tensor | None = None  # float32 [M, 3, 32, 100]: other views of the crops (rare.orientation)
    view_owner: list[int] = field(default_factory=list)  # [M]: the row of ``image`` each of those views shows


def collate(samples: list[dict | Skipped]) -> Batch:
    """Stack the good samples; count the skipped ones by reason."""
    good = [s for s in samples if not isinstance(s, Skipped)]
    skipped = dict(Counter(s.reason for s in samples if isinstance(s, Skipped)))
    if not good:
        return Batch(
            torch.zeros(0, *IMAGE_SHAPE),
            torch.zeros(0, NUM_STEPS, dtype=torch.long),
            torch.zeros(0, dtype=torch.long),
            [],
            skipped,
        )
    views = [(row, view) for row, s in enumerate(good) for view in s.get("views", ())]
    return Batch(
        torch.from_numpy(np.stack([s["image"] for s in good])),
        torch.from_numpy(np.stack([s["label"] for s in good])),
        torch.tensor([s["length"] for s in good], dtype=torch.long),
        [s["text"] for s in good],
        skipped,
        torch.from_numpy(np.stack([view for _, view in views])) if views else None,
        [row for row, _ in views],
    )
