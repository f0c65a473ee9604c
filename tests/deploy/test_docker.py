"""docker/: hadolint, and what the issue asks of the images (slim, no torch, non-root, healthcheck, one release)."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy.tools import COMPOSE, COMPOSE_CPU, DOCKERFILES, VENV_BIN, check

NGC = REPO / "docker" / "ngc.Dockerfile"
GATEWAY = REPO / "docker" / "gateway.Dockerfile"
SCRIPT = REPO / "docker" / "build-repository.sh"
# Files that must not pin an NGC release of their own (the release lives in docker/ngc.Dockerfile only).
DEPLOY_FILES = [COMPOSE, COMPOSE_CPU, GATEWAY, REPO / "docs" / "deploy.md", *sorted((REPO / "k8s").rglob("*.yaml"))]
# Written by the training run, not in every checkout yet; the gateway and builder images COPY it.
SHIPPED_MODEL = "models/rare_mv3_en"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def stages(dockerfile: Path) -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage, by stage name (`FROM image AS name`), in file order."""
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            current = []
            result[rest.split()[-1]] = current
        current.append((keyword, rest))
    return result


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile: Path) -> None:
    check("hadolint", "--no-color", str(dockerfile.relative_to(REPO)))


def test_gateway_image_is_slim_non_root_without_torch_and_has_a_healthcheck() -> None:
    gateway_stages = stages(GATEWAY)
    assert len(gateway_stages) >= 2, "multi-stage: the build tools stay in the build stage"
    assert list(gateway_stages)[-1] == "gateway", "a plain `docker build` (no --target) must give the gateway"
    final = dict(gateway_stages["gateway"])
    users = [rest for keyword, rest in gateway_stages["gateway"] if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the gateway runs as a non-root user"
    assert "/healthz" in final["HEALTHCHECK"]
    base = dict(instructions(GATEWAY))["ARG"]
    assert "slim" in base, f"a slim Python base image, not {base}"
    installs = [rest for keyword, rest in instructions(GATEWAY) if keyword == "RUN" and "pip install" in rest]
    assert any("requirements/gateway.lock" in rest for rest in installs), "the serve extra, compiled with hashes"
    assert "scripts/lock-gateway.sh" in (REPO / "requirements" / "gateway.lock").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["serve"]:
        name = re.split(r"[<>=!~\[; ]", requirement)[0].lower()
        assert name not in {"torch", "torchvision", "onnx"}, f"{requirement}: training-only, not for the gateway"


def test_ngc_images_share_one_pinned_release() -> None:
    releases = [rest for keyword, rest in instructions(NGC) if keyword == "ARG" and rest.startswith("TRITON_RELEASE=")]
    assert len(releases) == 1 and re.fullmatch(r"TRITON_RELEASE=\d{2}\.\d{2}", releases[0]), releases
    bases = {name: steps[0][1].split()[0] for name, steps in stages(NGC).items()}
    assert bases == {
        "engine-builder": "nvcr.io/nvidia/tensorrt:${TRITON_RELEASE}-py3",
        "triton": "nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3",
    }
    pinned = re.compile(r"(tritonserver|tensorrt):\d{2}\.\d{2}")
    for path in DEPLOY_FILES:
        assert not pinned.search(path.read_text()), f"{path.relative_to(REPO)} pins an NGC release of its own"


def test_engine_builder_runs_build_engine() -> None:
    builder = dict(stages(NGC)["engine-builder"])
    assert builder["ENTRYPOINT"] == '["build-repository"]'
    assert builder["CMD"] == '["--target", "tensorrt"]'
    assert "python3 -m build_engine" in SCRIPT.read_text()
    assert os.access(SCRIPT, os.X_OK), "COPY keeps the mode: the entry point must be executable"
    assert dict(stages(GATEWAY)["repo-builder"])["ENTRYPOINT"] == '["build-repository"]'


def test_build_repository_builds_once_per_model_and_flags(calib_model_dir: Path, tmp_path: Path) -> None:
    # The builders' entry point, for real, on the CPU target (no TensorRT or GPU here: both read as "none").
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",  # its python3 is the venv's, with build_engine
        "RARE_MODEL_DIR": str(calib_model_dir),
        "MODEL_REPOSITORY": str(tmp_path),
    }

    def build(*flags: str) -> str:
        result = subprocess.run(
            [str(SCRIPT), "--target", "onnxruntime", *flags], env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stderr

    assert "building" in build("--max-batch-size", "8")
    assert (tmp_path / "rare" / "config.pbtxt").is_file() and (tmp_path / "rare" / "1" / "model.onnx").is_file()
    assert "up to date" in build("--max-batch-size", "8")  # a restarted container does not rebuild
    assert "building" in build("--max-batch-size", "16")  # other flags, another build


def dockerignore_includes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides; `!` re-includes."""
    included = True
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        globs = {glob, glob.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            included = negated
    return included


def test_dockerignore_sends_what_the_images_copy_and_nothing_else() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    sources = set()
    for dockerfile in DOCKERFILES:
        for keyword, rest in instructions(dockerfile):
            if keyword == "COPY" and "--from=" not in rest:
                sources.update(rest.split()[:-1])
    assert sources, "no COPY found"
    for source in sorted(sources):
        assert dockerignore_includes(source, patterns), f"{source} is COPY'd but excluded by .dockerignore"
        assert source == SHIPPED_MODEL or (REPO / source).exists(), f"COPY source {source} does not exist"
    for heavy in (".venv/bin/python", ".git/HEAD", "output/x.pt", "tests/conftest.py", "rare/__pycache__/a.pyc"):
        assert not dockerignore_includes(heavy, patterns), f"{heavy} would be sent to the build context"


def test_the_gateway_image_installs_hashed_pins_that_match_the_tested_constraints() -> None:
    """requirements/gateway.lock: every package the image installs, at the version the suite ran with, with its
    sha256; the image installs it with --require-hashes and resolves nothing else."""
    lock = re.sub(r"\\\n\s*", " ", (REPO / "requirements" / "gateway.lock").read_text())
    pins = {}
    for line in lock.splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, _, rest = line.partition("==")
            pins[name.strip().lower()] = rest.split()[0]
            assert "--hash=sha256:" in rest, name
    constraints = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.split("#")[0].partition("==")
            constraints[name.strip().lower().replace("_", "-")] = version.strip()
    assert {"fastapi", "uvicorn", "onnxruntime", "opencv-python-headless", "numpy", "setuptools"} <= set(pins)
    assert "torch" not in pins
    assert {name: v for name, v in pins.items() if constraints.get(name, v) != v} == {}
    install = [rest for keyword, rest in stages(GATEWAY)["build"] if keyword == "RUN" and "pip install" in rest]
    assert install and "--require-hashes -r requirements/gateway.lock" in install[0] and "--no-deps" in install[0]
