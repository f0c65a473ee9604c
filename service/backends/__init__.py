"""Inference backends behind one protocol: the embedded ONNX Runtime and Triton (gRPC)."""
