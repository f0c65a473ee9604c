"""A cache of built model versions that outlives the pod: a TensorRT engine is built once per key, not per start.

An engine only loads on the TensorRT version and the GPU model that built it, so the key is the hash of the model
files (every ``*.onnx`` and ``rare.json``), the TensorRT version, the GPU model and the build flags. A hit copies the
cached version directory into the repository (seconds); a miss builds it, then stores it under its key, written
to a scratch name and renamed into place so that a crash or a concurrent builder never leaves half an entry. The
TensorRT timing cache lives beside the entries, one file per GPU and TensorRT version, so even a miss (a new model)
builds faster than the first build on that GPU did.

    python -m build_engine --engine-cache /var/cache/rare-engines --target tensorrt ...
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("build_engine")
DONE = ".complete"  # written last into an entry: an entry without it is an unfinished build, ignored


@dataclass(frozen=True)
class Platform:
    """What a built engine is bound to."""

    tensorrt: str  # version, or "none" where TensorRT is absent (CPU targets)
    gpu: str  # model and compute capability, or "none"

    @classmethod
    def here(cls) -> Platform:
        try:
            import tensorrt

            version = str(tensorrt.__version__)
        except ImportError:
            version = "none"
        return cls(version, _gpu_name())

    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.gpu}-trt{self.tensorrt}")


def _gpu_name() -> str:
    try:
        query = ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"]
        lines = subprocess.run(query, capture_output=True, text=True, timeout=30, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "none"
    return lines[0].strip() if lines else "none"


def cache_key(model_dir: Path, platform: Platform, flags: str) -> str:
    """sha256 of the model files, the platform and the build flags."""
    digest = hashlib.sha256()
    for path in sorted([*model_dir.glob("*.onnx"), model_dir / "rare.json"]):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(f"tensorrt={platform.tensorrt}\0gpu={platform.gpu}\0flags={flags}".encode())
    return digest.hexdigest()


def timing_cache_path(cache_dir: Path, platform: Platform) -> Path:
    return cache_dir / f"{platform.slug()}.timing"


def cached_version(cache_dir: Path, key: str, version_dir: Path, build: Callable[[Path], None]) -> bool:
    """Fill ``version_dir`` from the entry ``key``, building the entry first when it is missing; True on a hit."""
    entry = cache_dir / key
    hit = (entry / DONE).is_file()
    if not hit:
        cache_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{key[:12]}."))
        try:
            build(scratch)
            (scratch / DONE).write_text(key + "\n", encoding="utf-8")
            if not (entry / DONE).is_file():  # never remove a finished entry: a replica may be copying from it
                shutil.rmtree(entry, ignore_errors=True)  # an unfinished entry of an earlier, crashed build
                scratch.rename(entry)
        except OSError:
            if not (entry / DONE).is_file():
                raise
            # another builder stored the same key meanwhile: its entry is as good
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    log.info("engine cache %s: %s", "hit" if hit else "miss, built and stored", entry)
    version_dir.mkdir(parents=True, exist_ok=True)
    for item in entry.iterdir():
        if item.name != DONE:
            shutil.copy2(item, version_dir / item.name)
    return hit
