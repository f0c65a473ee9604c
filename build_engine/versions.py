"""Model versions in a Triton repository: which version directory a build writes, which versions Triton serves.

A build writes ``REPO/<name>/<version>/`` with the version of ``rare.json`` (``Global.model_version`` at export, a
positive integer; ``--version`` overrides it) and keeps the versions already there. What Triton serves is the
config's version policy:

- ``latest`` (the default): the highest version only. Adding version 2 beside 1 is the rollout: Triton (in poll
  mode, or after a load call) loads 2, moves the traffic to it, and unloads 1;
- ``N[,M...]``: exactly these versions; ``--serve 1`` is the rollback, and ``--serve latest`` rolls forward again.

    python -m build_engine versions --repository REPO [--name rare] --serve 1|latest
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from build_engine.errors import BuildError
from build_engine.triton_config import parse_pbtxt, to_pbtxt


def version_dir_name(version: str) -> str:
    """A Triton version directory name: a positive integer (what ``rare.json``'s model_version must be here)."""
    if not version.isdigit() or int(version) < 1:
        raise BuildError(
            f"model version {version!r} is not a Triton version (a positive integer): export with "
            "-o Global.model_version=N, or pass --version N"
        )
    return str(int(version))


def policy(serve: str) -> mc.ModelVersionPolicy:
    """``latest`` or a comma list of versions -> the config's version policy."""
    if serve == "latest":
        return mc.ModelVersionPolicy(latest=mc.ModelVersionPolicy.Latest(num_versions=1))
    versions = [int(version_dir_name(v.strip())) for v in serve.split(",") if v.strip()]
    if not versions:
        raise BuildError(f"--serve {serve!r}: expected 'latest' or versions such as 1 or 1,2")
    return mc.ModelVersionPolicy(specific=mc.ModelVersionPolicy.Specific(versions=versions))


def present_versions(model_root: Path) -> list[int]:
    return sorted(int(p.name) for p in model_root.iterdir() if p.is_dir() and p.name.isdigit())


def serve_versions(repository: Path, name: str, serve: str) -> list[int]:
    """Rewrite ``REPO/<name>/config.pbtxt`` to serve ``serve``; returns the versions present. The file is replaced in
    one rename, so a polling Triton never reads half of it."""
    root = Path(repository) / name
    config_path = root / "config.pbtxt"
    if not config_path.is_file():
        raise BuildError(f"{config_path}: not found (build the repository with python -m build_engine first)")
    present = present_versions(root)
    wanted = policy(serve)
    missing = sorted(set(wanted.specific.versions) - set(present))
    if missing:
        raise BuildError(f"{root}: no version {missing} here (present: {present})")
    config = parse_pbtxt(config_path.read_text(encoding="utf-8"))
    config.version_policy.CopyFrom(wanted)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".config.", suffix=".pbtxt")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(to_pbtxt(config))
    os.chmod(tmp, 0o644)
    os.replace(tmp, config_path)
    return present
