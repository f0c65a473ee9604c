"""The street lexicon: the words of shop signs, brands and web addresses that a dictionary does not hold.

Scene text is full of words no dictionary lists: compounds (HarbourFront, PRIMEFRESH), brand forms (McDonald's,
7-Eleven, eBay, H&M), people's and places' names (Michael's, Nanyang), coined or foreign words (Connexis,
L'Occitane), web addresses, and dictionary words cut off at the crop's edge (SMOOTH read as "mooth"). A model that
only ever saw dictionary words learns to "correct" them into dictionary words (welkome -> welcome), so some of the
synthetic labels are drawn from these forms instead (``RenderOptions.street_fraction``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rare.synth.text import DIGITS, UPPER, apply_case, choose, pick

Draw = Callable[[np.random.Generator], str]

_CONSONANTS = "bcdfghjklmnprstvwz"
_CLUSTERS = ["br", "ch", "cl", "cr", "dr", "fl", "gr", "kr", "pl", "pr", "sh", "sk", "sl", "st", "th", "tr", "qu"]
_VOWELS = "aeiouaeiouy"
_DIGRAPHS = ["ai", "ea", "ee", "ia", "io", "oo", "ou"]
_CODAS = ["n", "r", "s", "x", "l", "m", "ng", "nt", "st", "ck", "t"]
_TLDS = [".com", ".com", ".net", ".org", ".co.uk", ".com.sg", ".de", ".info", ".biz", ".io", ".sg", ".us"]


def street_case(rng: np.random.Generator, word: str) -> str:
    """Shop-sign casing: UPPER, Title, lower, or CamelCase kept as drawn."""
    kind = choose(rng, (40, 25, 15, 20))
    if kind == 0:
        return word.upper()
    if kind == 1:
        return word[:1].upper() + word[1:]
    return word.lower() if kind == 2 else word


def _syllable(rng: np.random.Generator) -> str:
    onset = ("", pick(rng, _CONSONANTS), pick(rng, _CLUSTERS))[choose(rng, (2, 7, 1))]
    vowel = pick(rng, _VOWELS) if rng.random() < 0.85 else pick(rng, _DIGRAPHS)
    return onset + vowel + (pick(rng, _CODAS) if rng.random() < 0.3 else "")


def pseudo_word(rng: np.random.Generator) -> str:
    """A pronounceable coined word of 2-4 syllables (Nanyang, Connexis, Tovira): glyphs, not a dictionary."""
    syllables = 2 + choose(rng, (5, 4, 1))
    return apply_case(rng, "".join(_syllable(rng) for _ in range(syllables)))


class StreetLexicon:
    """Draws street-lexicon labels from dictionary words (``word``: lower case) and names (``name``: Title case)."""

    def __init__(self, word: Draw, names: list[str]) -> None:
        self.word = word
        self.names = names or ["Smith"]
        self._generators: tuple[tuple[float, Draw], ...] = (
            (25, self.compound),
            (15, self.truncated),
            (20, pseudo_word),
            (15, self.brand),
            (15, self.name),
            (10, self.web),
        )

    def sample(self, rng: np.random.Generator) -> str:
        weights = tuple(w for w, _ in self._generators)
        return self._generators[choose(rng, weights)][1](rng)

    def _cap(self, rng: np.random.Generator) -> str:
        word = self.word(rng).lower()
        return word[:1].upper() + word[1:]

    def compound(self, rng: np.random.Generator) -> str:
        """Two words run together: HarbourFront, FOODPARK, primefresh."""
        return street_case(rng, self._cap(rng) + self._cap(rng))

    def truncated(self, rng: np.random.Generator) -> str:
        """A word cut by the crop's edge: 1-3 letters gone from its start or its end."""
        word = self.word(rng)
        for _ in range(5):
            if len(word) >= 5:
                break
            word = self.word(rng)
        cut = int(rng.integers(1, 4)) if len(word) >= 5 else 0
        word = word[cut:] if rng.random() < 0.5 else word[: len(word) - cut]
        return apply_case(rng, word)

    def name(self, rng: np.random.Generator) -> str:
        """A person's or a place's name, sometimes possessive (Michael's, JOE'S)."""
        name = pick(rng, self.names)
        if rng.random() < 0.3:
            name += "'s"
        return street_case(rng, name)

    def brand(self, rng: np.random.Generator) -> str:
        """McDonald's, O'Neill, eBay, iPhone, Route66, 7-Eleven, H&M, AT&T."""
        kind = choose(rng, (3, 1, 2, 2, 2, 2))
        if kind == 0:
            return street_case(
                rng, pick(rng, ["Mc", "Mac"]) + pick(rng, self.names) + ("'s" if rng.random() < 0.5 else "")
            )
        if kind == 1:
            return street_case(rng, "O'" + pick(rng, self.names))
        if kind == 2:
            return pick(rng, "eiEI") + self._cap(rng)
        if kind == 3:
            return street_case(rng, self._cap(rng) + str(int(rng.integers(1, 1000))))
        if kind == 4:
            return str(int(rng.integers(1, 100))) + pick(rng, ["-", "", " "]) + street_case(rng, self._cap(rng))
        initials = "".join(pick(rng, UPPER) for _ in range(int(rng.integers(1, 3))))
        return initials + "&" + "".join(pick(rng, UPPER + DIGITS[:1]) for _ in range(int(rng.integers(1, 3))))

    def web(self, rng: np.random.Generator) -> str:
        """www.harbourfront.com.sg, shopnow.net, info@tovira.de."""
        host = self.word(rng).lower() + (self.word(rng).lower() if rng.random() < 0.4 else "")
        if rng.random() < 0.3:
            host = pseudo_word(rng).lower()
        address = host + pick(rng, _TLDS)
        kind = choose(rng, (4, 4, 2))
        if kind == 0:
            address = "www." + address
        elif kind == 2:
            address = pick(rng, ["info", "sales", "shop", "hello"]) + "@" + address
        return address.upper() if rng.random() < 0.2 else address
