"""WordRenderer: determinism, output sanity, labels, fonts and text sampling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rare.render_options import RenderOptions
from rare.synth.errors import SynthError
from rare.synth.fonts import ALNUM, default_font_list, missing_glyphs, read_font_list, resolve_fonts
from rare.synth.render import WordRenderer
from rare.synth.text import CHARSET, PUNCTUATION, TextSampler, read_wordlist


@pytest.fixture(scope="module")
def renderer() -> WordRenderer:
    return WordRenderer()


def test_same_seed_and_index_give_identical_bytes(renderer: WordRenderer) -> None:
    other = WordRenderer()
    for index in range(20):
        image, label = renderer.sample(7, index)
        again, label_again = other.sample(7, index)
        assert label == label_again
        assert image.shape == again.shape and image.tobytes() == again.tobytes()
        direct, _ = renderer.render(np.random.default_rng([7, index]))
        assert direct.tobytes() == image.tobytes()


def test_different_index_or_seed_gives_different_images(renderer: WordRenderer) -> None:
    images = [renderer.sample(0, index)[0].tobytes() for index in range(30)]
    assert len(set(images)) == 30
    assert renderer.sample(1, 0)[0].tobytes() != images[0]


def test_identical_in_another_process(renderer: WordRenderer) -> None:
    code = "import sys; from rare.synth.render import WordRenderer as R; sys.stdout.buffer.write(R().sample(3, 5)[0])"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout
    assert out == renderer.sample(3, 5)[0].tobytes()


def test_output_dtype_shape_and_labels(renderer: WordRenderer) -> None:
    heights = []
    for index in range(200):
        image, label = renderer.sample(11, index)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert image.flags.c_contiguous
        assert 8 <= image.shape[1] <= 1200
        assert 0 < len(label) <= 23 and label == label.strip()
        assert all(c in CHARSET or c == " " for c in label), label
        assert int(image.max()) - int(image.min()) > 10, "a blank crop"
        heights.append(image.shape[0])
    assert min(heights) >= 8 and max(heights) <= 80
    assert np.median(heights) >= 24


def test_large_fraction_renders_sharp_large_crops() -> None:
    large = WordRenderer(RenderOptions(large_fraction=1.0))
    heights = [large.sample(5, index)[0].shape[0] for index in range(40)]
    assert np.median(heights) >= 80 and max(heights) <= 240
    mixed = WordRenderer(RenderOptions(large_fraction=0.5))
    tall = sum(mixed.sample(5, index)[0].shape[0] > 80 for index in range(60))
    assert 10 <= tall <= 50


def test_large_fraction_out_of_range_is_refused() -> None:
    with pytest.raises(SynthError, match="large_fraction"):
        WordRenderer(RenderOptions(large_fraction=1.5))
    with pytest.raises(SynthError, match="texture_fraction"):
        WordRenderer(RenderOptions(texture_fraction=-0.1))


def test_texture_fraction_zero_keeps_the_stream(renderer: WordRenderer) -> None:
    plain = WordRenderer(RenderOptions(texture_fraction=0.0))
    for index in range(10):
        assert plain.sample(7, index)[0].tobytes() == renderer.sample(7, index)[0].tobytes()


def test_textured_crops_are_reproducible_readable_and_different(renderer: WordRenderer) -> None:
    textured, again = (
        WordRenderer(RenderOptions(texture_fraction=1.0)),
        WordRenderer(RenderOptions(texture_fraction=1.0)),
    )
    for index in range(20):
        image, label = textured.sample(9, index)
        assert image.tobytes() == again.sample(9, index)[0].tobytes()
        assert 0 < len(label) <= 23 and int(image.max()) - int(image.min()) > 10
    differ = sum(textured.sample(9, i)[0].tobytes() != renderer.sample(9, i)[0].tobytes() for i in range(20))
    assert differ == 20


def test_max_chars_is_respected() -> None:
    short = WordRenderer(RenderOptions(max_chars=3))
    labels = [short.sample(0, index)[1] for index in range(100)]
    assert all(0 < len(label) <= 3 for label in labels)
    with pytest.raises(SynthError, match="max_chars"):
        WordRenderer(RenderOptions(max_chars=0))


def test_label_mix_looks_like_real_crops() -> None:
    sampler = TextSampler(read_wordlist(None), 23)
    rng = np.random.default_rng(0)
    labels = [sampler.sample(rng) for _ in range(3000)]
    lengths = np.array([len(label) for label in labels])
    assert 3 <= np.median(lengths) <= 7
    assert 0.3 < np.mean([label.isupper() for label in labels]) < 0.7
    assert 0.05 < np.mean([label.isdigit() for label in labels]) < 0.3
    assert 0.03 < np.mean([any(c in PUNCTUATION for c in label) for label in labels]) < 0.3
    assert len(set(labels)) > 2000


def test_wordlist_filters_apostrophes_and_non_ascii(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("cat\ndog's\ncafé\n\nTree\nx2\n", encoding="utf-8")
    assert read_wordlist(words) == ["cat", "Tree"]
    with pytest.raises(SynthError, match="not found"):
        read_wordlist(tmp_path / "missing.txt")
    renderer = WordRenderer(RenderOptions(wordlist=str(words)))
    assert renderer.text.by_length[3] == ["cat"]


def test_checked_in_font_list_loads_and_every_font_draws_the_charset() -> None:
    listed = read_font_list(default_font_list())
    assert len(listed) >= 100
    assert all(path.is_absolute() and str(path).startswith("/usr/share/fonts/") for path in listed)
    present = resolve_fonts(None)
    assert len(present) == len(listed), "some listed fonts are missing: run scripts/apt-install.sh"
    bad = {str(path): gaps for path in present if (gaps := missing_glyphs(path, ALNUM + PUNCTUATION))}
    assert not bad


def test_missing_glyph_check_detects_gaps() -> None:
    font = resolve_fonts(None)[0]
    assert missing_glyphs(font, "a\u4e2d\ue001") == "\u4e2d\ue001"


def test_font_arguments(tmp_path: Path) -> None:
    font = resolve_fonts(None)[0]
    listing = tmp_path / "fonts.txt"
    listing.write_text(f"# one font\n{font}\n{tmp_path / 'gone.ttf'}\n", encoding="utf-8")
    assert WordRenderer(RenderOptions(fonts=str(listing))).fonts == [str(font)]
    assert WordRenderer(RenderOptions(fonts=[str(font)])).fonts == [str(font)]
    with pytest.raises(SynthError, match="none of the 1 listed font files exists"):
        WordRenderer(RenderOptions(fonts=[str(tmp_path / "gone.ttf")]))
    with pytest.raises(SynthError, match="font list not found"):
        WordRenderer(RenderOptions(fonts=str(tmp_path / "nothing.txt")))
