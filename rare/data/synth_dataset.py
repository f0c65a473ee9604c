"""``SynthDataset``: the synthetic renderer as a torch Dataset of (BGR uint8 crop, label), deterministic per index.

Item ``i`` is ``WordRenderer.sample(seed, i)``, the same in every process; the renderer is built lazily in each
process, so the dataset pickles cheaply into DataLoader workers. ``len`` is the nominal size (one epoch), but any
non-negative index renders, so callers may walk the stream further (a fresh set of images per epoch).

OpenCV's thread count is left to the process that starts the workers (the training loop makes it 1 before its
loaders fork): ``cv2.setNumThreads`` called in a forked worker whose parent has run OpenCV's thread pool never returns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch.utils.data

from rare.render_options import RenderOptions
from rare.synth.errors import SynthError
from rare.synth.render import WordRenderer, resolved_options
from rare.synth.text import DEFAULT_WORDLIST


class SynthDataset(torch.utils.data.Dataset):
    """``num_samples`` synthetic word crops of the stream ``seed``; no transforms (training preprocesses)."""

    def __init__(self, num_samples: int, seed: int = 0, options: RenderOptions | None = None) -> None:
        if num_samples < 0:
            raise SynthError(f"num_samples must be >= 0, got {num_samples}")
        self.options = resolved_options(options)  # here, so that a bad option or font fails in the main process
        wordlist = Path(self.options.wordlist) if self.options.wordlist else DEFAULT_WORDLIST
        if not wordlist.is_file():
            raise SynthError(f"{wordlist}: word list not found")
        self.num_samples = num_samples
        self.seed = seed
        self._renderer: WordRenderer | None = None

    def __len__(self) -> int:
        return self.num_samples

    def renderer(self) -> WordRenderer:
        """This process's renderer, built on first use."""
        if self._renderer is None:
            self._renderer = WordRenderer(self.options)
        return self._renderer

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        if index < 0:
            raise IndexError(f"SynthDataset index must be >= 0, got {index}")
        return self.renderer().sample(self.seed, int(index))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_renderer": None}
