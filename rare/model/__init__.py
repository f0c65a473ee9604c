"""The PyTorch RARE model (needs torch; the rest of :mod:`rare` does not)."""

from rare.model.rare import RARE, InferenceModel, build_model

__all__ = ["RARE", "InferenceModel", "build_model"]
