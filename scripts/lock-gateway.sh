#!/usr/bin/env bash
# Regenerate requirements/gateway.lock: the serve extra (and setuptools to build the project) at the versions of
# requirements/constraints.txt, each with its sha256 from PyPI. The gateway image installs it with --require-hashes.
# pip-tools runs in a throwaway venv; the project itself is dropped from the lock (the image installs it --no-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install -q pip-tools
"$tools/bin/pip-compile" -q --extra serve --generate-hashes --allow-unsafe --strip-extras --no-header \
  -c requirements/constraints.txt --output-file "$tools/lock" pyproject.toml requirements/gateway-build.in
{
  echo "# The gateway image's dependencies with their sha256 hashes; regenerate with scripts/lock-gateway.sh."
  grep -v -e '^--extra-index-url' -e '^--find-links' -e '^--index-url' "$tools/lock" \
    | awk '/^rare-ocr @ /{skip=1; next} skip && /^[a-z]/{skip=0} !skip'
} > requirements/gateway.lock
