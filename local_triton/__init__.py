"""A local CPU Triton server (the nvidia-pytriton wheel's tritonserver) for tests, benchmarks and GPU-less serving."""
