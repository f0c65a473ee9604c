"""RARE scene-text recognition: model library, training, export and inference."""

__version__ = "0.1.0"
