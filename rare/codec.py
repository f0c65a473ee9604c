"""The one label codec of RARE's attention decoder, shared by training, prediction and serving (numpy only).

Class table (PaddleOCR's ``AttnLabelEncode``/``AttnLabelDecode``): index 0 is ``sos``, then the dictionary's
characters, and the last index is ``eos``. With the built-in 36-character dictionary that is 38 classes:
0 ``sos``, 1..10 ``0-9``, 11..36 ``a-z``, 37 ``eos``.

Label layout (what step *i* of the 25 decoding steps is trained to emit): ``[sos, c1 .. cL, eos, sos, sos, ...]``.
Step 0 emits ``sos``, which is why at most 23 characters fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_CHARACTERS = "0123456789abcdefghijklmnopqrstuvwxyz"
SOS_TOKEN = "sos"
EOS_TOKEN = "eos"
NUM_STEPS = 25


def ids_and_scores(outputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Model outputs by role -> per-step class ids [N, T] and their probabilities [N, T].

    The compact ``ids`` and ``scores`` when the model has them (what ``rare export`` writes), else the argmax and max
    of ``probs`` (softmax probabilities, or logits: only the argmax and the max matter for the text).
    """
    if "ids" in outputs and "scores" in outputs:
        return np.asarray(outputs["ids"]), np.asarray(outputs["scores"], dtype=np.float32)
    probs = np.asarray(outputs["probs"])
    if probs.ndim != 3:
        raise ValueError(f"expected probabilities [N, T, C], got shape {probs.shape}")
    return probs.argmax(axis=2), probs.max(axis=2)


@dataclass(frozen=True)
class Recognition:
    """One decoded crop: the text, its mean character confidence and one confidence per character."""

    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)


@dataclass
class EncodedBatch:
    """Labels of a batch: ``labels`` int64 [B, 25], ``lengths`` int64 [B] (characters, without sos/eos)."""

    labels: np.ndarray
    lengths: np.ndarray
    dropped_chars: int  # characters outside the dictionary that were skipped


class LabelCodec:
    """Encode label strings into class indices and decode the decoder's outputs into text."""

    def __init__(self, characters: Sequence[str] = DEFAULT_CHARACTERS, num_steps: int = NUM_STEPS) -> None:
        chars = list(characters)
        if not chars:
            raise ValueError("the dictionary is empty")
        duplicates = sorted({c for c in chars if chars.count(c) > 1})
        if duplicates:
            raise ValueError(f"the dictionary repeats {duplicates}")
        self.characters = chars
        self.tokens = [SOS_TOKEN, *chars, EOS_TOKEN]
        self.sos = 0
        self.eos = len(self.tokens) - 1
        self.num_steps = num_steps
        # PaddleOCR lowercases labels when the dictionary is the built-in lowercase one; we do it whenever the
        # dictionary has no capitals, which is the same rule for the built-in set.
        self.lowercase = not any(c != c.lower() for c in chars)
        self._index = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def from_dict_file(cls, path: str | Path | None, use_space_char: bool = False) -> LabelCodec:
        """PaddleOCR's rule: no file means the built-in 36 characters; a file has one character per line."""
        if path is None or str(path) == "":
            chars = list(DEFAULT_CHARACTERS)
        else:
            text = Path(path).read_text(encoding="utf-8")
            chars = [line.rstrip("\r\n") for line in text.splitlines() if line.rstrip("\r\n")]
        if use_space_char and " " not in chars:
            chars.append(" ")
        return cls(chars)

    @property
    def num_classes(self) -> int:
        return len(self.tokens)

    @property
    def max_chars(self) -> int:
        """Longest label that fits the 25 steps next to ``sos`` and ``eos``."""
        return self.num_steps - 2

    def normalize(self, text: str) -> tuple[str, int]:
        """Lowercase if the dictionary has no capitals and drop characters outside it; returns (text, dropped)."""
        if self.lowercase:
            text = text.lower()
        kept = "".join(c for c in text if c in self._index)
        return kept, len(text) - len(kept)

    def encode(self, text: str) -> np.ndarray | None:
        """Class indices [25] for one label, or None if nothing is left or it is too long."""
        kept, _ = self.normalize(text)
        if not kept or len(kept) > self.max_chars:
            return None
        label = np.zeros(self.num_steps, dtype=np.int64)
        label[1 : len(kept) + 1] = [self._index[c] for c in kept]
        label[len(kept) + 1] = self.eos
        return label

    def encode_batch(self, texts: Iterable[str]) -> EncodedBatch:
        """Encode labels that are known to be valid (see :meth:`encode`); raises on an invalid one."""
        labels, lengths, dropped = [], [], 0
        for text in texts:
            kept, n_dropped = self.normalize(text)
            label = self.encode(kept)
            if label is None:
                raise ValueError(f"label {text!r} is empty or longer than {self.max_chars} after normalization")
            labels.append(label)
            lengths.append(len(kept))
            dropped += n_dropped
        return EncodedBatch(np.stack(labels), np.asarray(lengths, dtype=np.int64), dropped)

    def decode(self, probs: np.ndarray, stop_at_eos: bool = True) -> list[Recognition]:
        """Decode softmax probabilities [N, T, C] (or logits: only the argmax and max matter for the text)."""
        probs = np.asarray(probs)
        if probs.ndim != 3 or probs.shape[2] != self.num_classes:
            raise ValueError(f"expected probabilities [N, T, {self.num_classes}], got shape {probs.shape}")
        return self.decode_ids(*ids_and_scores({"probs": probs}), stop_at_eos)

    def decode_ids(self, ids: np.ndarray, scores: np.ndarray, stop_at_eos: bool = True) -> list[Recognition]:
        """Decode per-step class ids [N, T] with their probabilities [N, T].

        ``sos`` is skipped wherever it appears. With ``stop_at_eos`` (the correct behaviour) decoding ends at the
        first ``eos``; without it every ``eos`` is skipped and decoding goes on, which is PaddleOCR's
        ``AttnLabelDecode`` (its ``break`` is dead code) and turns ``hello<eos>xyz`` into ``helloxyz``.
        """
        ids = np.asarray(ids)
        scores = np.asarray(scores, dtype=np.float32)
        if ids.ndim != 2 or ids.shape != scores.shape:
            raise ValueError(f"ids and scores must both be [N, T], got {ids.shape} and {scores.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_classes):
            raise ValueError(f"class ids must lie in [0, {self.num_classes}), got {ids.min()}..{ids.max()}")
        # plain Python on lists: 25 steps per row cost less than a dozen small numpy calls per row
        rows = zip(ids.tolist(), scores.tolist(), strict=True)
        return [self._decode_row(row, row_scores, stop_at_eos) for row, row_scores in rows]

    def _decode_row(self, row: list[int], scores: list[float], stop_at_eos: bool) -> Recognition:
        chars, confs = [], []
        for class_id, score in zip(row, scores, strict=True):
            if class_id == self.eos:
                if stop_at_eos:
                    break
                continue
            if class_id != self.sos:
                chars.append(self.tokens[class_id])
                confs.append(score)
        confidence = sum(confs) / len(confs) if confs else 0.0
        return Recognition("".join(chars), confidence, confs)
