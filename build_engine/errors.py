"""Errors of the build_engine commands: each one is printed as a single line by the CLI."""

from __future__ import annotations

from rare.errors import RareError

PAIRING_RULE = "build the engine inside nvcr.io/nvidia/tensorrt:<release>-py3 (same release as the Triton image)"


class BuildError(RareError, RuntimeError):
    """A model repository or engine could not be written."""


class TensorRTMissingError(BuildError):
    """The ``tensorrt`` Python package is not importable here."""

    def __init__(self) -> None:
        super().__init__(f"TensorRT is not installed: {PAIRING_RULE}")
