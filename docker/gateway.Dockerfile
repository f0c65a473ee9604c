# syntax=docker/dockerfile:1
# The gateway (FastAPI + uvicorn): the `serve` extra only, no torch; the shipped model is baked in.
#
#   docker build -f docker/gateway.Dockerfile -t rare-gateway .
#   docker build -f docker/gateway.Dockerfile --target repo-builder -t rare-repo-builder .
#
# `repo-builder` is the gateway plus onnx: it writes the CPU (ONNX Runtime) Triton model repository on hosts
# without a GPU (docker-compose.cpu.yml, k8s/overlays/cpu). The GPU builder is docker/ngc.Dockerfile.
# Another model: mount its directory (model.onnx + rare.json) over /app/models/rare_mv3_en, or set RARE_MODEL_DIR.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Every dependency from requirements/gateway.lock: the versions of requirements/constraints.txt (the pins the test
# suite ran with), each checked against its sha256 from PyPI; then the project itself, without resolving anything.
COPY requirements/gateway.lock requirements/constraints.txt requirements/
COPY pyproject.toml README.md ./
COPY rare rare
COPY service service
COPY build_engine build_engine
RUN pip install --require-hashes -r requirements/gateway.lock \
    && pip install --no-deps --no-build-isolation .

# The runtime stages share this: the venv, a non-root user, the model.
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RARE_MODEL_DIR=/app/models/rare_mv3_en
RUN groupadd --system --gid 10001 rare \
    && useradd --system --uid 10001 --gid rare --home-dir /app --no-create-home --shell /usr/sbin/nologin rare
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY models/rare_mv3_en models/rare_mv3_en

FROM runtime AS repo-builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MODEL_REPOSITORY=/models \
    RARE_TRITON_MODEL=rare
COPY --from=build /src/requirements/constraints.txt /tmp/constraints.txt
RUN pip install -c /tmp/constraints.txt onnx onnxconverter-common \
    && rm /tmp/constraints.txt \
    && mkdir -p /models \
    && chown rare:rare /models
COPY docker/build-repository.sh /usr/local/bin/build-repository
USER 10001:10001
ENTRYPOINT ["build-repository"]
CMD ["--target", "cpu"]

FROM runtime AS gateway
ENV RARE_HOST=0.0.0.0 \
    RARE_PORT=8080
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('RARE_PORT', '8080'), timeout=4)"]
CMD ["python", "-m", "service"]
