"""How many cores the embedded runtime sizes itself for (affinity, capped by a container's CPU quota)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rare.onnx_runtime import usable_cores

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", AFFINITY),  # no quota
        ("100000 100000\n", 1),  # limits.cpu: 1
        ("150000 100000\n", min(AFFINITY, 2)),  # 1.5 CPUs: round up, never above the affinity
        ("1000 100000\n", 1),  # a tiny quota still gets one
        ("6400000 100000\n", AFFINITY),  # a quota above the cores this process may run on
    ],
)
def test_a_cgroup_quota_caps_the_cores(tmp_path: Path, cpu_max: str, expected: int) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert usable_cores(tmp_path / "cpu.max") == expected


def test_without_cgroup_v2_the_affinity_counts(tmp_path: Path) -> None:
    assert usable_cores(tmp_path / "missing") == AFFINITY
    (tmp_path / "garbled").write_text("nonsense")
    assert usable_cores(tmp_path / "garbled") == AFFINITY
