"""What the synthetic crops say: dictionary words, codes, numbers and a little punctuation, weighted like real crops.

Real scene-text word crops (ICDAR2015, IIIT5K, SVT) are mostly short dictionary words (median 4-5 characters),
mostly UPPER or Title case, with some numbers, prices and codes. Words are drawn by first drawing a length from
that distribution, then a word of that length, so short common-looking words dominate as they do in real data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from rare.synth.errors import SynthError

DEFAULT_WORDLIST = Path("/usr/share/dict/words")
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
PUNCTUATION = "-.':!&/()$%#,?@\""
CHARSET = DIGITS + UPPER + LOWER + PUNCTUATION
# Weights of word lengths 1..14 (longer words share the last weight), after the real training crops.
_LENGTH_WEIGHTS = np.array([2, 7, 18, 22, 15, 11, 9, 6, 4, 2.5, 1.5, 1, 0.6, 0.4])
_LENGTH_P = _LENGTH_WEIGHTS / _LENGTH_WEIGHTS.sum()


def read_wordlist(path: Path | None) -> list[str]:
    """ASCII alphabetic words from a one-word-a-line file (apostrophes and accents skipped), in file order."""
    path = DEFAULT_WORDLIST if path is None else Path(path)
    if not path.is_file():
        hint = " (install the Debian package wamerican: scripts/apt-install.sh)" if path == DEFAULT_WORDLIST else ""
        raise SynthError(f"{path}: word list not found{hint}")
    words = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        word = line.strip()
        if word and word.isascii() and word.isalpha():
            words.append(word)
    if not words:
        raise SynthError(f"{path}: no usable words (ASCII letters only, one per line)")
    return words


def pick(rng: np.random.Generator, items: str | list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def choose(rng: np.random.Generator, weights: tuple[float, ...]) -> int:
    """Index drawn with the given (unnormalized) weights."""
    total = sum(weights)
    point = rng.random() * total
    for index, weight in enumerate(weights):
        point -= weight
        if point < 0:
            return index
    return len(weights) - 1


def apply_case(rng: np.random.Generator, word: str) -> str:
    """UPPER (most common on signs), Title, lower, as listed, or a random mix."""
    kind = choose(rng, (45, 25, 24, 4, 2))
    if kind == 0:
        return word.upper()
    if kind == 1:
        return word[:1].upper() + word[1:].lower()
    if kind == 2:
        return word.lower()
    if kind == 3:
        return word
    flips = rng.random(len(word)) < 0.5
    return "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=True))


class TextSampler:
    """Draws label strings of 1..max_chars characters from a word list and generators of numbers and codes."""

    def __init__(self, words: list[str], max_chars: int = 23) -> None:
        if max_chars < 1:
            raise SynthError(f"max_chars must be at least 1, got {max_chars}")
        if not words:
            raise SynthError("the word list is empty")
        self.max_chars = max_chars
        self.by_length: list[list[str]] = [[] for _ in range(len(_LENGTH_WEIGHTS) + 1)]
        for word in words:
            self.by_length[min(len(word), len(_LENGTH_WEIGHTS))].append(word)
        self._generators: tuple[tuple[float, Callable[[np.random.Generator], str]], ...] = (
            (62, self.word),
            (8, self.punctuated_word),
            (3, self.two_words),
            (12, number),
            (10, code),
            (5, letters),
        )

    def sample(self, rng: np.random.Generator, draw: Callable[[np.random.Generator], str] | None = None) -> str:
        """One label: mostly a dictionary word, else a number, code or random letters (or what ``draw`` gives);
        never empty or too long."""
        weights = tuple(w for w, _ in self._generators)
        for _ in range(20):
            text = (draw or self._generators[choose(rng, weights)][1])(rng).strip()
            if 0 < len(text) <= self.max_chars:
                return text
        return letters(rng)[: self.max_chars]

    def raw_word(self, rng: np.random.Generator) -> str:
        """A listed word, its length drawn from the real-crop distribution (the next length that has words)."""
        length = int(rng.choice(len(_LENGTH_P), p=_LENGTH_P)) + 1
        while not self.by_length[length]:
            length = length % len(_LENGTH_WEIGHTS) + 1
        return pick(rng, self.by_length[length])

    def word(self, rng: np.random.Generator) -> str:
        """A listed word in a random case."""
        return apply_case(rng, self.raw_word(rng))

    def punctuated_word(self, rng: np.random.Generator) -> str:
        """HERE!, now., (Main), SIDE-GATE, A&W, JOE'S, Exit: and the like."""
        word = self.word(rng)
        kind = choose(rng, (4, 3, 3, 1, 2, 2, 1))
        if kind == 0:
            return word + pick(rng, ".!:,?")
        if kind == 1:
            sep = pick(rng, "-&/.")
            other = self.word(rng)
            return word + sep + (other.upper() if word.isupper() else other)
        if kind == 2:
            return word + ("'S" if word.isupper() else "'s")
        if kind == 3:
            return "(" + word + ")"
        if kind == 4:
            return '"' + word + '"' if rng.random() < 0.3 else word + "..."
        if kind == 5:
            return pick(rng, "#@") + word
        return "www." + word.lower() + pick(rng, [".com", ".org", ".net", ".co.uk"])

    def two_words(self, rng: np.random.Generator) -> str:
        """Two words with a space (the label keeps the space)."""
        first = self.word(rng)
        second = self.raw_word(rng)
        return f"{first} {second.upper() if first.isupper() else second.lower()}"


def _digits(rng: np.random.Generator, count: int) -> str:
    return "".join(pick(rng, DIGITS) for _ in range(count))


def number(rng: np.random.Generator) -> str:
    """Plain numbers, prices, years, phone numbers, times, dates, percentages."""
    kind = choose(rng, (35, 20, 10, 10, 6, 6, 6, 7))
    if kind == 0:
        return str(int(rng.integers(0, 10 ** int(rng.integers(1, 5)))))
    if kind == 1:
        price = f"{int(rng.integers(0, 1000))}.{_digits(rng, 2)}"
        return pick(rng, ["$", "$", "", "#"]) + price if rng.random() < 0.6 else price
    if kind == 2:
        return str(int(rng.integers(1900, 2030)))
    if kind == 3:
        sep = pick(rng, "- .")
        return _digits(rng, int(rng.integers(3, 5))) + sep + _digits(rng, 4)
    if kind == 4:
        return f"{int(rng.integers(0, 24))}:{_digits(rng, 2)}"
    if kind == 5:
        return f"{int(rng.integers(1, 32)):02d}/{int(rng.integers(1, 13)):02d}"
    if kind == 6:
        return f"{int(rng.integers(1, 100))}%"
    return _digits(rng, int(rng.integers(5, 12)))


def code(rng: np.random.Generator) -> str:
    """Alphanumeric codes: B52, 4U, XJ-220, a7k2, Route66."""
    length = int(rng.integers(2, 9))
    upper = rng.random() < 0.7
    alphabet = UPPER if upper else LOWER
    chars = [pick(rng, DIGITS) if rng.random() < 0.4 else pick(rng, alphabet) for _ in range(length)]
    if length > 3 and rng.random() < 0.2:
        chars.insert(int(rng.integers(1, length)), pick(rng, "-./"))
    return "".join(chars)


def letters(rng: np.random.Generator) -> str:
    """Random letters (not words), so the model reads glyphs rather than guessing dictionary words."""
    length = int(rng.integers(1, 11))
    return apply_case(rng, "".join(pick(rng, LOWER) for _ in range(length)))
