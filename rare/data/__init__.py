"""Datasets: LMDB (MJSynth/SynthText release format), label-file folders, the synthetic stream, and mixes."""
