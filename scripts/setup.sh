#!/usr/bin/env bash
# Create .venv and install the project for a purpose, with every version pinned by requirements/constraints.txt.
#   scripts/setup.sh serve   the gateway (no torch)
#   scripts/setup.sh dev     everything: training, serving, a local CPU Triton, tests, benchmarks (also Debian packages)
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-serve}"
python="${PYTHON:-python3}"

case "$purpose" in
  serve) extras="serve" ;;
  dev) extras="serve,train,dev,bench"; scripts/apt-install.sh ;;
  *) echo "usage: $0 serve|dev" >&2; exit 2 ;;
esac

if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ required" >&2; exit 1; }
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$purpose"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  # constraints pin every package (torch==2.13.0 keeps pip from pulling multi-GB CUDA builds)
  .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -e ".[$extras]"
  if [ "$purpose" = dev ]; then
    # the CPU tritonserver 2.51 + Python backend for integration tests (local_triton.server). The wheel declares
    # numpy<2 for its own Python API, which we never import: install it without its dependencies.
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -c requirements/constraints.txt \
      nvidia-pytriton==0.7.0
  fi
  touch "$stamp"
fi
