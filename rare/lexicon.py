"""Lexicon-constrained reading: of a list of candidate words, the one that best explains what the model read.

The method is an edit distance weighted by the model's own per-character confidences (as in lexicon matching for
CTC and attention recognizers, e.g. Shi et al. 2016 use the decoder's sequence probability; a weighted distance
works from the compact outputs every backend returns). Changing or deleting a character the model read with
probability p costs p: confident characters are expensive to overrule, unsure ones cheap. Inserting a character the
model did not read costs ``insert_cost``. The candidate with the lowest total cost wins, and its score is
``exp(-cost)`` (1 for an exact match).

Speed: rapidfuzz's plain Levenshtein distance (C, all candidates at once) keeps the ``shortlist`` nearest candidates,
and only those are weighed. 1,000 candidates cost well under a millisecond per crop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from rare.codec import LabelCodec
from rare.errors import RareError

INSERT_COST = 0.6
SHORTLIST = 32
MAX_WORD_CHARS = 64  # the model reads at most 25 characters; the weighing costs reading x candidate length


class LexiconError(RareError, ValueError):
    """A lexicon that cannot be used (too large, or empty after normalization)."""


class EmptyLexicon(LexiconError):
    """No candidate word has a character the model reads."""


@dataclass(frozen=True)
class LexiconMatch:
    word: str
    score: float  # exp(-cost): 1 for a candidate equal to the reading


class Lexicon:
    """Candidate words, normalized like labels (the codec's case folding and character set), ready to match."""

    def __init__(self, words: Sequence[str], codec: LabelCodec, max_words: int = 100_000) -> None:
        check_words(words, max_words)
        normalized = {codec.normalize(w)[0]: w for w in words}
        normalized.pop("", None)
        if not normalized:
            raise EmptyLexicon("the lexicon has no usable word (after lowercasing and dropping unknown characters)")
        self.keys = list(normalized)  # what is compared
        self.words = list(normalized.values())  # what is answered, as given

    def match(self, text: str, confidences: Sequence[float], shortlist: int = SHORTLIST) -> LexiconMatch:
        """The best candidate for a reading (``text`` and one confidence per character)."""
        near = process.extract(text, self.keys, scorer=Levenshtein.distance, limit=shortlist)
        costs = [(weighted_distance(text, confidences, self.keys[i]), i) for _, _, i in near]
        cost, index = min(costs)
        return LexiconMatch(self.words[index], math.exp(-cost))


def check_words(words: Sequence[str], max_words: int = 100_000) -> None:
    """Refuse a lexicon too large to match quickly: over ``max_words`` words, or a word over
    :data:`MAX_WORD_CHARS` characters."""
    if len(words) > max_words:
        raise LexiconError(f"{len(words)} candidate words; at most {max_words}")
    longest = max(words, key=len, default="")
    if len(longest) > MAX_WORD_CHARS:
        raise LexiconError(f"a candidate word has {len(longest)} characters; at most {MAX_WORD_CHARS}")


def weighted_distance(read: str, confidences: Sequence[float], word: str, insert_cost: float = INSERT_COST) -> float:
    """Edit distance from the reading to ``word``: substituting or deleting read character i costs its confidence,
    inserting a character costs ``insert_cost``. (Plain Python floats: on words this short they beat numpy.)"""
    previous = [j * insert_cost for j in range(len(word) + 1)]  # cost of reaching word[:j] from nothing read
    for char, conf in zip(read, confidences, strict=True):
        current = [previous[0] + conf]
        for j, target in enumerate(word, 1):
            replace = previous[j - 1] + (0.0 if char == target else conf)
            current.append(min(previous[j] + conf, current[j - 1] + insert_cost, replace))
        previous = current
    return previous[-1]
