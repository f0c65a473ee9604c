"""Schemathesis (its CLI) against the running gateway's OpenAPI: no 5xx, every response matches the schema,
valid data is accepted and invalid data rejected."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import Gateway


def test_api_conforms_to_its_openapi(gateway: Gateway, tmp_path: Path) -> None:
    cli = shutil.which("st", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is not installed (dev extra)"
    result = subprocess.run(
        [
            cli,
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            gateway.url + "/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "30",
            "--seed",
            "1",
            "--workers",
            "2",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Internal Server Error" not in gateway.log_text()
