"""Synthetic scene-text word crops for training without MJSynth/SynthText (``rare synth``, ``SynthDataset``)."""

from rare.synth.errors import SynthError
from rare.synth.render import WordRenderer

__all__ = ["SynthError", "WordRenderer"]
