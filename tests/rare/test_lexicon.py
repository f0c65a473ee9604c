"""rare.lexicon: the confidence-weighted edit distance, and the limits that keep matching fast."""

from __future__ import annotations

import math

import pytest

from rare.codec import LabelCodec
from rare.lexicon import INSERT_COST, MAX_WORD_CHARS, EmptyLexicon, Lexicon, LexiconError, weighted_distance

CODEC = LabelCodec(list("0123456789abcdefghijklmnopqrstuvwxyz"))


def test_overruling_an_unsure_character_costs_its_confidence() -> None:
    assert weighted_distance("stare", [0.9, 0.9, 0.9, 0.2, 0.9], "state") == pytest.approx(0.2)
    assert weighted_distance("stare", [0.9, 0.9, 0.9, 0.9, 0.9], "state") == pytest.approx(0.9)
    assert weighted_distance("cat", [1.0, 1.0, 1.0], "cats") == pytest.approx(INSERT_COST)


def test_the_best_candidate_is_answered_as_given_with_its_score() -> None:
    lexicon = Lexicon(["State", "Stare", "Store"], CODEC)
    match = lexicon.match("stare", [0.9, 0.9, 0.9, 0.2, 0.9])
    assert match.word == "Stare" and match.score == 1.0
    assert Lexicon(["State", "Store"], CODEC).match("stare", [0.9, 0.9, 0.9, 0.2, 0.9]).word == "State"
    assert Lexicon(["State"], CODEC).match("stare", [0.9, 0.9, 0.9, 0.2, 0.9]).score == pytest.approx(math.exp(-0.2))


def test_lexicons_too_large_to_match_quickly_are_refused() -> None:
    with pytest.raises(LexiconError, match="3 candidate words; at most 2"):
        Lexicon(["a", "b", "c"], CODEC, max_words=2)
    with pytest.raises(LexiconError, match=f"has {MAX_WORD_CHARS + 1} characters; at most {MAX_WORD_CHARS}"):
        Lexicon(["ok", "w" * (MAX_WORD_CHARS + 1)], CODEC)
    with pytest.raises(EmptyLexicon):
        Lexicon(["!!!", "   "], CODEC)
