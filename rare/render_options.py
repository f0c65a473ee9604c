"""``RenderOptions``: what the synthetic renderer draws, in one typed object handed down as is.

The ``Train`` config's ``synth`` section is these options plus a seed (:class:`rare.config_schema.SynthConfig`), and
the dataset, the source and ``rare synth`` pass them to :class:`rare.synth.render.WordRenderer` unchanged, so a new
option is declared once, here (in the torch-free core, so that the config schema can hold it; the renderer checks
the values: :func:`rare.synth.render.check_options`). Every share defaults to 0, which keeps the stream of images
exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RenderOptions:
    """Options of the synthetic word renderer."""

    # a font list file (one path per line), a folder, "default" (the checked-in list), or a list of these; None:
    # the checked-in list. `rare fonts` writes .cache/fonts/fonts.txt (Google Fonts faces).
    fonts: str | list[str] | None = None
    wordlist: str | None = None  # one word per line; None: Debian's /usr/share/dict/words
    max_chars: int = 23  # longest label produced
    large_fraction: float = 0.0  # share of crops rendered 80-240 px tall (shrunk to 32 px by preprocessing)
    texture_fraction: float = 0.0  # share of crops on a natural texture (stone, foliage, wood, brick)
    street_fraction: float = 0.0  # share of labels from the street lexicon (rare.synth.street): names, brands, ...
