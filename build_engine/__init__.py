"""Serving artifacts for RARE: Triton model repositories (Python/ONNX Runtime/TensorRT), FP16 ONNX, local Triton."""
