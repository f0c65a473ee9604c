"""Synthetic scene-text word crops for training without MJSynth/SynthText (``rare synth``, ``SynthDataset``).

Import from the modules (``rare.synth.render.WordRenderer``); its options are ``rare.render_options.RenderOptions``.
"""
