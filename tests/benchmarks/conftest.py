"""Run a benchmark as the owner would (``python -m benchmarks.<name> ...``), with tiny settings, into a temp folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

Bench = Callable[..., dict[str, Any]]


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    """``bench(name, model_dir, "--flag value ...")`` runs one benchmark with ``--out tmp_path``; its ``.json``."""

    def run(name: str, model_dir: Path, flags: str, result: str | None = None, timeout: float = 600) -> dict[str, Any]:
        env = {**os.environ, "RARE_BENCH_WORK": str(tmp_path / "work")}
        command = [sys.executable, "-m", f"benchmarks.{name}", "--out", str(tmp_path), "--model-dir", str(model_dir)]
        command += flags.split()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        stem = result or name
        for suffix in (".md", ".json", ".png"):
            path = tmp_path / f"{stem}{suffix}"
            assert path.is_file() and path.stat().st_size > 0, f"{path} not written"
        return json.loads((tmp_path / f"{stem}.json").read_text())

    return run
