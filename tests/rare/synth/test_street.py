"""The street lexicon: its forms, their alphabet, and the renderer's street_fraction."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rare.render_options import RenderOptions
from rare.synth.errors import SynthError
from rare.synth.render import WordRenderer
from rare.synth.street import StreetLexicon, pseudo_word
from rare.synth.text import CHARSET, read_wordlist

WORDS = read_wordlist(None)


@pytest.fixture(scope="module")
def lexicon() -> StreetLexicon:
    lower = [w.lower() for w in WORDS[:5000]]
    return StreetLexicon(lambda rng: lower[int(rng.integers(len(lower)))], [w for w in WORDS if w[:1].isupper()])


def test_every_form_is_drawable_text(lexicon: StreetLexicon) -> None:
    rng = np.random.default_rng(0)
    for draw in (lexicon.compound, lexicon.truncated, lexicon.name, lexicon.brand, lexicon.web, lexicon.sample):
        for _ in range(200):
            text = draw(rng)
            assert text.strip() and all(c in CHARSET or c == " " for c in text), (draw.__name__, text)


def test_the_forms_look_like_what_they_stand_for(lexicon: StreetLexicon) -> None:
    rng = np.random.default_rng(1)
    assert all(pseudo_word(rng).isalpha() for _ in range(100))
    compounds = [lexicon.compound(rng) for _ in range(200)]
    assert any(c[0].isupper() and any(x.isupper() for x in c[1:]) and not c.isupper() for c in compounds)  # Camel
    addresses = [lexicon.web(rng).lower() for _ in range(100)]
    assert all(re.search(r"\.(com|net|org|de|info|biz|io|sg|us|uk)$", a) for a in addresses), addresses
    known = {w.lower() for w in WORDS}
    cut = [lexicon.truncated(rng).lower() for _ in range(200)]
    assert sum(t not in known for t in cut) > 100  # most cut words are no longer dictionary words


def test_street_fraction_draws_street_labels() -> None:
    street = WordRenderer(RenderOptions(street_fraction=1.0, max_chars=12))
    labels = [street.sample(4, index)[1] for index in range(60)]
    known = set(WORDS) | {w.upper() for w in WORDS} | {w.lower() for w in WORDS}
    assert sum(label not in known for label in labels) > 40
    assert all(0 < len(label) <= 12 for label in labels)
    with pytest.raises(SynthError, match="street_fraction"):
        WordRenderer(RenderOptions(street_fraction=2.0))
