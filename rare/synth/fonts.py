"""The fonts of the synthetic renderer: the checked-in list, loading, caching and glyph-coverage checks.

``fonts.txt`` next to this module lists one absolute font path per line (faces from the Debian ``fonts-*`` packages
in ``requirements/apt.txt``). A face is only useful if it draws every character the text sampler can produce, so
:func:`missing_glyphs` compares each character's bitmap with the font's ``.notdef`` glyph.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import ImageFont

from rare.synth.errors import SynthError

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".woff", ".woff2")
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOTDEF_PROBE = "\ue000"  # a private-use code point no Latin font maps: renders as .notdef


def default_font_list() -> Path:
    """The checked-in ``rare/synth/fonts.txt``."""
    return Path(str(resources.files("rare.synth").joinpath("fonts.txt")))


def read_font_list(path: Path) -> list[Path]:
    """Font paths from a list file (one per line, ``#`` comments) or every font file under a folder, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
    if not path.is_file():
        raise SynthError(f"{path}: font list not found")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Path(line) for line in lines if line]


def _expand(entry: Path | str) -> tuple[list[Path], str]:
    """One entry of a font setting -> font paths: a face, a folder of faces, a list file, or "default"."""
    if str(entry) == "default":
        return read_font_list(default_font_list()), "; install them with scripts/apt-install.sh (requirements/apt.txt)"
    path = Path(entry)
    if path.suffix.lower() in FONT_SUFFIXES:
        return [path], ""
    if not path.exists():
        raise SynthError(f"{path}: font list not found (`make fonts` writes .cache/fonts/fonts.txt)")
    return read_font_list(path), ""


def resolve_fonts(fonts: Sequence[Path | str] | Path | str | None) -> list[Path]:
    """The font files to use, missing ones skipped. ``fonts`` is None (the checked-in list), or one entry or a list
    of entries, each a font file, a folder of them, a list file, or ``"default"`` (the checked-in list).

    Raises :class:`SynthError` when none of them exists, naming how to install the default ones.
    """
    entries = ["default"] if fonts is None else [fonts] if isinstance(fonts, str | Path) else list(fonts)
    listed, hint = [], ""
    for entry in entries:
        paths, entry_hint = _expand(entry)
        listed += paths
        hint = hint or entry_hint
    present = [p for p in listed if p.is_file()]
    if not present:
        raise SynthError(f"none of the {len(listed)} listed font files exists{hint}")
    return present


@lru_cache(maxsize=1024)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A FreeType face at a pixel size, cached per process (BASIC layout: identical output with or without raqm)."""
    try:
        return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    except OSError as exc:
        raise SynthError(f"{path}: cannot load font: {exc}") from None


def _glyph_bitmap(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    mask = font.getmask(char)
    return np.asarray(mask, dtype=np.uint8).reshape(mask.size[1], mask.size[0])


def missing_glyphs(path: Path, chars: str, size: int = 32) -> str:
    """The characters of ``chars`` (spaces ignored) that the font draws as ``.notdef`` or not at all."""
    font = load_font(str(path), size)
    notdef = _glyph_bitmap(font, NOTDEF_PROBE)
    missing = []
    for char in chars:
        if char.isspace():
            continue
        bitmap = _glyph_bitmap(font, char)
        blank = bitmap.size == 0 or not bitmap.any()
        if blank or (bitmap.shape == notdef.shape and np.array_equal(bitmap, notdef)):
            missing.append(char)
    return "".join(missing)
