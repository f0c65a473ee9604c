"""``SynthDataset``: the synthetic renderer as a torch Dataset of (BGR uint8 crop, label), deterministic per index.

Item ``i`` is ``WordRenderer.sample(seed, i)``, the same in every process; the renderer is built lazily in each
process, so the dataset pickles cheaply into DataLoader workers. ``len`` is the nominal size (one epoch), but any
non-negative index renders, so callers may walk the stream further (a fresh set of images per epoch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch.utils.data

from rare.synth.errors import SynthError
from rare.synth.fonts import resolve_fonts
from rare.synth.render import WordRenderer
from rare.synth.text import DEFAULT_WORDLIST


class SynthDataset(torch.utils.data.Dataset):
    """``num_samples`` synthetic word crops of the stream ``seed``; no transforms (training preprocesses)."""

    def __init__(
        self,
        num_samples: int,
        seed: int = 0,
        fonts: Sequence[Path] | Path | str | None = None,
        wordlist: Path | str | None = None,
        max_chars: int = 23,
        large_fraction: float = 0.0,
        texture_fraction: float = 0.0,
    ) -> None:
        if num_samples < 0:
            raise SynthError(f"num_samples must be >= 0, got {num_samples}")
        wordlist_path = Path(wordlist) if wordlist is not None else None
        if not (wordlist_path or DEFAULT_WORDLIST).is_file():
            raise SynthError(f"{wordlist_path or DEFAULT_WORDLIST}: word list not found")
        self.num_samples = num_samples
        self.seed = seed
        self.fonts = [str(p) for p in resolve_fonts(fonts)]  # fail early, in the main process
        self.wordlist = str(wordlist_path) if wordlist_path else None
        self.max_chars = max_chars
        self.large_fraction = large_fraction
        self.texture_fraction = texture_fraction
        self._renderer: WordRenderer | None = None

    def __len__(self) -> int:
        return self.num_samples

    def renderer(self) -> WordRenderer:
        """This process's renderer (built on first use; in a DataLoader worker, OpenCV is made single-threaded)."""
        if self._renderer is None:
            if torch.utils.data.get_worker_info() is not None:
                cv2.setNumThreads(1)
            wordlist = Path(self.wordlist) if self.wordlist else None
            self._renderer = WordRenderer(
                [Path(p) for p in self.fonts], wordlist, self.max_chars, self.large_fraction, self.texture_fraction
            )
        return self._renderer

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        if index < 0:
            raise IndexError(f"SynthDataset index must be >= 0, got {index}")
        return self.renderer().sample(self.seed, int(index))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_renderer": None}
