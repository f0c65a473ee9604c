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
    assert usable_cores(tmp_path / "cpu.max", tmp_path / "no_v1") == expected


@pytest.mark.parametrize(
    ("quota", "period", "expected"), [("-1", "100000", AFFINITY), ("200000", "100000", min(AFFINITY, 2))]
)
def test_a_cgroup_v1_quota_counts_too(tmp_path: Path, quota: str, period: str, expected: int) -> None:
    (tmp_path / "cpu.cfs_quota_us").write_text(quota + "\n")
    (tmp_path / "cpu.cfs_period_us").write_text(period + "\n")
    assert usable_cores(tmp_path / "no_v2", tmp_path) == expected


@pytest.mark.parametrize("text", ["nonsense", "100000 0", "abc 100000", ""])
def test_without_a_readable_quota_the_affinity_counts(tmp_path: Path, text: str) -> None:
    assert usable_cores(tmp_path / "missing", tmp_path / "missing_v1") == AFFINITY
    (tmp_path / "garbled").write_text(text)
    assert usable_cores(tmp_path / "garbled", tmp_path / "missing_v1") == AFFINITY
