"""Checkpoints, ONNX export and the PaddleOCR import (need torch)."""
