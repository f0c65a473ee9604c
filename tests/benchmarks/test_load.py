"""CPU accounting from /proc: a busy loop shows up in the process's and the machine's CPU."""

import os
import time
from pathlib import Path

from benchmarks.load import CpuMeter, machine_busy_s, process_cpu_s


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_busy_loop_is_counted_for_the_process_and_the_machine() -> None:
    with CpuMeter(os.getpid()) as cpu:
        _spin(0.3)
    assert 0.25 <= cpu.process_s <= 0.6
    assert cpu.busy_s >= cpu.process_s - 0.05  # the machine's clock ticks cover this process's
    machine_ms, process_ms = cpu.ms_per(3)
    assert abs(process_ms - 1000 * cpu.process_s / 3) < 1e-9 and machine_ms > 0


def test_a_containers_cgroup_usage_is_read_when_there_is_one(tmp_path: Path) -> None:
    stat = tmp_path / "cpu.stat"
    stat.write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    assert machine_busy_s(stat) == 2.5
    assert machine_busy_s(tmp_path / "none") > 0  # no cgroup: /proc/stat


def test_readings_are_monotonic_and_a_gone_process_reads_zero() -> None:
    first, before = machine_busy_s(), process_cpu_s(os.getpid())
    _spin(0.05)
    assert machine_busy_s() >= first and process_cpu_s(os.getpid()) >= before
    assert process_cpu_s(2**22 + 12345) == 0.0
    assert CpuMeter().ms_per(0) != CpuMeter().ms_per(0)  # nan: nothing served


def test_the_main_thread_is_told_apart_from_the_others() -> None:
    """The gateway's event loop is its main thread: work on another thread counts for the process, not for it."""
    import threading

    with CpuMeter(os.getpid()) as cpu:
        worker = threading.Thread(target=_spin_thread, args=(0.3,))
        worker.start()
        worker.join()
    assert cpu.process_s >= 0.25 and cpu.main_s <= 0.1
    assert cpu.main_ms_per(2) == 1000 * cpu.main_s / 2 and cpu.main_ms_per(0) != cpu.main_ms_per(0)


def _spin_thread(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
