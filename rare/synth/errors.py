"""Errors of the synthetic renderer and ``rare synth``."""

from rare.errors import RareError


class SynthError(RareError, ValueError):
    """A missing font or word list, an unusable output path or a bad ``rare synth`` argument."""
