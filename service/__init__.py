"""The RARE gateway: FastAPI in front of Triton (gRPC) or an embedded ONNX Runtime backend."""
