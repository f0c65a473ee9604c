"""``WordRenderer``: synthetic scene-text word crops (BGR uint8) with their labels, deterministic per (seed, index).

One crop: draw a label (:mod:`rare.synth.text`), a font and a palette (:mod:`rare.synth.colors`); draw the word's
fill / outline / shadow coverage masks (:mod:`rare.synth.layout`); map them into a detector-like crop with one
perspective warp (:mod:`rare.synth.geometry`); paint them in the palette's colours over a procedural background
(:mod:`rare.synth.background`); degrade like a camera (:mod:`rare.synth.effects`). Every random choice comes from
the ``numpy.random.Generator`` passed in, so ``sample(seed, index)`` is reproducible byte for byte.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from rare.render_options import RenderOptions
from rare.synth.background import render_background
from rare.synth.colors import BGR, Palette, sample_palette
from rare.synth.effects import degrade
from rare.synth.errors import SynthError
from rare.synth.fonts import load_font, resolve_fonts
from rare.synth.geometry import place, sample_height, sample_large_height, warp_layer
from rare.synth.layout import FILL, OUTLINE, SHADOW, TextMasks, make_text_masks
from rare.synth.street import StreetLexicon
from rare.synth.text import TextSampler, read_wordlist

# Fonts are drawn at a few sizes only (the warp then rescales, mostly by 0.75-1.25), so the face cache stays small.
FONT_SIZES = np.array([20, 28, 40, 56, 80])
LARGE_FONT_SIZES = np.array([80, 112, 160, 224])  # for large crops only, so that their glyphs stay sharp


def resolved_options(options: RenderOptions | None) -> RenderOptions:
    """``options`` (default: all defaults) checked, with the font entries resolved to the font files that exist;
    raises :class:`SynthError` naming the first option out of range, or when no listed font exists."""
    options = options if options is not None else RenderOptions()
    check_options(options)
    return replace(options, fonts=[str(p) for p in resolve_fonts(options.fonts)])


def check_options(options: RenderOptions) -> None:
    """Raise :class:`SynthError` naming the first option out of range."""
    if options.max_chars < 1:
        raise SynthError(f"max_chars must be at least 1, got {options.max_chars}")
    for name in ("large_fraction", "texture_fraction", "street_fraction"):
        share = getattr(options, name)
        if not 0.0 <= share <= 1.0:
            raise SynthError(f"{name} must be in [0, 1], got {share}")


class WordRenderer:
    """Renders random word crops; ``sample(seed, index)`` gives the same image in any process.

    ``options`` (:class:`~rare.render_options.RenderOptions`) name the fonts (default the checked-in
    ``rare/synth/fonts.txt``), the word list (default ``/usr/share/dict/words``, Debian ``wamerican``), the longest
    label, and the shares of large crops (80-240 px tall, sharp, so that training sees what shrinking a large crop to
    the model's height does), of natural-texture backgrounds and of street-lexicon labels. A share of 0 draws no
    extra random number, so the stream stays what it was without that option.
    """

    def __init__(self, options: RenderOptions | None = None) -> None:
        self.options = options = resolved_options(options)
        self.fonts: list[str] = self.options.fonts
        wordlist = Path(options.wordlist) if options.wordlist else None
        words = read_wordlist(wordlist)
        self.text = TextSampler(words, options.max_chars)
        self.street = StreetLexicon(self.text.raw_word, [w for w in words if w[:1].isupper()])

    def preload_fonts(self) -> None:
        """Load every face at every drawing size now (otherwise each loads on first use, about 0.4 ms apiece)."""
        for path in self.fonts:
            for size in FONT_SIZES:
                load_font(path, int(size))

    def sample(self, seed: int, index: int) -> tuple[np.ndarray, str]:
        """The crop number ``index`` of the stream ``seed``: ``render(np.random.default_rng([seed, index]))``."""
        return self.render(np.random.default_rng([seed, index]))

    def render(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """One crop (uint8 BGR [H, W, 3], H about 24..80, or up to 240 when large) and the exact string drawn in it."""
        street = self.options.street_fraction > 0 and rng.random() < self.options.street_fraction
        label = self.text.sample(rng, self.street.sample if street else None)
        font = self.fonts[int(rng.integers(len(self.fonts)))]
        palette = sample_palette(rng)
        large = self.options.large_fraction > 0 and rng.random() < self.options.large_fraction
        height = sample_large_height(rng) if large else sample_height(rng)
        size = _font_size(rng, height, label, LARGE_FONT_SIZES if large else FONT_SIZES)
        neighbour = self.text.sample(rng) if rng.random() < 0.15 else None
        text = make_text_masks(rng, label, font, size, neighbour)
        placement = place(rng, text.box, height)
        natural = self.options.texture_fraction > 0 and rng.random() < self.options.texture_fraction
        image = render_background(rng, placement.height, placement.width, palette, natural)
        _paint_text(rng, image, warp_layer(text.masks, placement), text, palette)
        text_px = (text.box[3] - text.box[1]) * placement.scale
        return degrade(rng, image, text_px), label


def _font_size(rng: np.random.Generator, crop_height: int, label: str, sizes: np.ndarray = FONT_SIZES) -> int:
    """The drawing size nearest to one whose ink lands near the crop height, so the warp barely rescales it.

    Ink height as a fraction of the font size: about 0.5 for x-height-only words ("one"), 0.72 with capitals,
    digits or ascenders, plus about 0.22 with descenders.
    """
    tall = any(c.isupper() or c.isdigit() or c in "bdfhiklt()/!?'\"&#$%@" for c in label)
    ratio = (0.72 if tall else 0.5) + (0.22 if any(c in "gjpqy(),;" for c in label) else 0.0)
    wanted = crop_height * 0.85 / ratio * rng.uniform(0.85, 1.15)
    return int(sizes[int(np.argmin(np.abs(sizes - wanted)))])


def _paint(image: np.ndarray, color: BGR | np.ndarray, coverage: np.ndarray, opacity: float = 1.0) -> None:
    """Blend ``color`` into ``image`` (float32, in place) with uint8 ``coverage`` times ``opacity``."""
    alpha = coverage.astype(np.float32) * (opacity / 255)
    image += (np.asarray(color, np.float32) - image) * alpha[:, :, None]


def _paint_text(
    rng: np.random.Generator, image: np.ndarray, masks: np.ndarray, text: TextMasks, palette: Palette
) -> None:
    """Shadow, outline, then fill (flat, or a vertical gradient; sometimes faded), in crop coordinates."""
    if text.has_shadow:
        _paint(image, palette.shadow, masks[:, :, SHADOW], rng.uniform(0.5, 1.0))
    if text.has_outline:
        _paint(image, palette.outline, masks[:, :, OUTLINE])
    fill: BGR | np.ndarray = palette.text
    if rng.random() < 0.2:
        color = np.asarray(palette.text, np.float32)
        other = np.clip(color * rng.uniform(0.5, 1.5) + rng.uniform(-40, 40, 3), 0, 255).astype(np.float32)
        ramp = np.linspace(0, 1, image.shape[0], dtype=np.float32)[:, None, None]
        fill = color + (other - color) * ramp
    opacity = rng.uniform(0.55, 1.0) if rng.random() < 0.1 else 1.0
    _paint(image, fill, masks[:, :, FILL], opacity)
