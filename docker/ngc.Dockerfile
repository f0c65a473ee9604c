# syntax=docker/dockerfile:1
# NVIDIA NGC images of ONE release: the TensorRT image that builds the engine and the Triton image that loads it.
#
# A TensorRT engine only loads in the TensorRT version that built it (and on the GPU architecture it was built
# on), and nvcr.io/nvidia/tensorrt:YY.MM-py3 carries the same TensorRT as nvcr.io/nvidia/tritonserver:YY.MM-py3.
# TRITON_RELEASE below is the only place the release is written: docker-compose.yml builds both stages from this
# file, and k8s/ runs the images built from it. Change it here (or `--build-arg TRITON_RELEASE=YY.MM`) and rebuild
# both images together; keep tritonclient in requirements/constraints.txt at the matching 2.x server version.
#
#   docker build -f docker/ngc.Dockerfile --target engine-builder -t rare-engine-builder .
#   docker build -f docker/ngc.Dockerfile --target triton -t rare-triton .
ARG TRITON_RELEASE=26.09

FROM nvcr.io/nvidia/tensorrt:${TRITON_RELEASE}-py3 AS engine-builder
ARG TRITON_RELEASE
LABEL org.opencontainers.image.title="rare-engine-builder" \
      org.opencontainers.image.description="Builds the RARE Triton model repository (TensorRT FP16 engine) on the target GPU" \
      rare.triton-release="${TRITON_RELEASE}"
# The image's Python is the distribution's (externally managed): install beside it, never over its packages.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RARE_MODEL_DIR=/opt/rare/models/rare_mv3_en \
    MODEL_REPOSITORY=/models \
    RARE_TRITON_MODEL=rare \
    HOME=/tmp
WORKDIR /opt/rare
COPY requirements/constraints.txt requirements/constraints.txt
COPY pyproject.toml README.md ./
COPY rare rare
COPY service service
COPY build_engine build_engine
# tritonclient for config.pbtxt, onnx (+ onnxconverter-common for TensorRT 11's typed FP16 graph); the image's own
# tensorrt package is used as is, and the build fails here if it is missing.
RUN python3 -m pip install --ignore-installed -c requirements/constraints.txt \
        . "tritonclient[grpc]" onnx onnxconverter-common \
    && python3 -c "import tensorrt, build_engine.cli; print('TensorRT', tensorrt.__version__)" \
    && mkdir -p /models /cache \
    && chown 1000:1000 /models /cache
COPY models/rare_mv3_en models/rare_mv3_en
COPY docker/build-repository.sh /usr/local/bin/build-repository
USER 1000:1000
ENTRYPOINT ["build-repository"]
CMD ["--target", "tensorrt"]

FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3 AS triton
ARG TRITON_RELEASE
LABEL org.opencontainers.image.title="rare-triton" \
      org.opencontainers.image.description="Triton Inference Server of the same NGC release as rare-engine-builder" \
      rare.triton-release="${TRITON_RELEASE}"
# uid 1000 is the image's triton-server user.
USER 1000:1000
EXPOSE 8000 8001 8002
CMD ["tritonserver", "--model-repository=/models", "--model-control-mode=none", "--strict-readiness=true", \
     "--exit-timeout-secs=30", "--disable-auto-complete-config"]
