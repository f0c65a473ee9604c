import subprocess
import sys
from pathlib import Path

from benchmarks.common import Target, cpu_facts, write_results
from tests.conftest import REPO


def test_targets_of_every_benchmark_in_one_table(tmp_path: Path) -> None:
    facts = cpu_facts()
    met = Target("embedded CPU path FP32 (model only)", ">= 1,000 crops/s at batch 32", "1,234 crops/s", True)
    missed = Target("dynamic batching gain, gateway -> Triton", ">= 4x", "2.00x", False)
    write_results(tmp_path, "model_throughput", "t", [], {"machine": facts, "targets": [met.__dict__]})
    write_results(tmp_path, "gateway_load_triton", "t", [], {"machine": facts, "targets": [missed.__dict__]})
    command = [sys.executable, "-m", "benchmarks.report", "--out", str(tmp_path)]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    text = (tmp_path / "README.md").read_text()
    assert "| [model_throughput](model_throughput.md) | embedded CPU path FP32 (model only) | >= 1,000" in text
    assert "| 1,234 crops/s | yes |" in text
    assert "| 2.00x | **no** |" in text
