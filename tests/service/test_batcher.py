"""The embedded backend's MicroBatcher: instances run at once, queued calls merge, failures reach their callers."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from service.batcher import MicroBatcher
from service.errors import BackendUnavailable


def rows(*values: int) -> np.ndarray:
    """A fake batch whose rows are identified by their value: [N, 1]."""
    return np.asarray(values, dtype=np.float32)[:, None]


def echo(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return batch.astype(np.int64), batch * 2


def test_instances_run_batches_at_the_same_time() -> None:
    """Two instances: two calls are inside ``run`` together (the barrier needs both, or it times out)."""
    barrier = threading.Barrier(2, timeout=5)

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        barrier.wait()
        return echo(batch)

    async def main() -> list[tuple[np.ndarray, np.ndarray]]:
        batcher = MicroBatcher(run, max_batch=8, instances=2)
        try:
            return await asyncio.gather(batcher.submit(rows(1)), batcher.submit(rows(2)))
        finally:
            batcher.close()

    (ids1, _), (ids2, _) = asyncio.run(main())
    assert ids1.ravel().tolist() == [1] and ids2.ravel().tolist() == [2]


def test_calls_queued_behind_a_busy_instance_merge_into_one_batch() -> None:
    seen: list[list[int]] = []
    release = threading.Event()

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append(batch.ravel().astype(int).tolist())
        if len(seen) == 1:
            release.wait(5)  # the first call holds the only instance while the others queue
        return echo(batch)

    async def main() -> list[tuple[np.ndarray, np.ndarray]]:
        batcher = MicroBatcher(run, max_batch=4, instances=1)
        try:
            first = asyncio.ensure_future(batcher.submit(rows(0)))
            await asyncio.sleep(0.05)
            rest = [asyncio.ensure_future(batcher.submit(rows(v, v + 100))) for v in (1, 2, 3)]
            await asyncio.sleep(0.05)
            release.set()
            return await asyncio.gather(first, *rest)
        finally:
            batcher.close()

    results = asyncio.run(main())
    # at most 4 rows per batch: the two-row calls 1 and 2 merge, call 3 runs next
    assert seen == [[0], [1, 101, 2, 102], [3, 103]]
    assert [ids.ravel().tolist() for ids, _ in results] == [[0], [1, 101], [2, 102], [3, 103]]
    assert results[2][1].ravel().tolist() == [4.0, 204.0]


def test_a_failure_reaches_every_caller_of_that_batch_and_the_batcher_keeps_serving() -> None:
    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if (batch < 0).any():
            raise RuntimeError("bad batch")
        return echo(batch)

    async def main() -> tuple[list[object], tuple[np.ndarray, np.ndarray]]:
        batcher = MicroBatcher(run, max_batch=8, instances=1)
        try:
            failed = await asyncio.gather(batcher.submit(rows(-1)), return_exceptions=True)
            return failed, await batcher.submit(rows(5))
        finally:
            batcher.close()

    failed, (ids, _) = asyncio.run(main())
    assert isinstance(failed[0], RuntimeError)
    assert ids.ravel().tolist() == [5]


def test_a_caller_that_gave_up_costs_no_inference() -> None:
    seen: list[list[int]] = []
    release = threading.Event()

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append(batch.ravel().astype(int).tolist())
        release.wait(5)
        return echo(batch)

    async def main() -> None:
        batcher = MicroBatcher(run, max_batch=8, instances=1)
        try:
            busy = asyncio.ensure_future(batcher.submit(rows(0)))
            await asyncio.sleep(0.05)
            gone = asyncio.ensure_future(batcher.submit(rows(1)))
            await asyncio.sleep(0.05)
            gone.cancel()
            release.set()
            await busy
            await batcher.submit(rows(2))
        finally:
            batcher.close()

    asyncio.run(main())
    assert seen == [[0], [2]]


@pytest.mark.parametrize("instances", [1, 3])
def test_many_concurrent_callers_get_their_own_rows(instances: int) -> None:
    async def main() -> list[tuple[np.ndarray, np.ndarray]]:
        batcher = MicroBatcher(echo, max_batch=16, instances=instances)
        try:
            return await asyncio.gather(*(batcher.submit(rows(i, -i)) for i in range(1, 101)))
        finally:
            batcher.close()

    results = asyncio.run(main())
    assert [ids.ravel().tolist() for ids, _ in results] == [[i, -i] for i in range(1, 101)]


def test_close_fails_queued_and_running_calls_and_refuses_new_ones() -> None:
    """Shutdown: nobody waits for ever, neither behind a busy instance nor on the batch that is running."""
    release = threading.Event()

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        release.wait(5)
        return echo(batch)

    async def main() -> list[object]:
        batcher = MicroBatcher(run, max_batch=1, instances=1)
        running = asyncio.ensure_future(batcher.submit(rows(0)))
        queued = asyncio.ensure_future(batcher.submit(rows(1)))
        await asyncio.sleep(0.05)
        batcher.close()
        results = await asyncio.wait_for(asyncio.gather(running, queued, return_exceptions=True), 2)
        release.set()
        late = await asyncio.gather(batcher.submit(rows(2)), return_exceptions=True)
        return [*results, *late]

    outcomes = asyncio.run(main())
    assert all(isinstance(o, BackendUnavailable) for o in outcomes), outcomes


def test_a_busy_event_loop_does_not_hold_the_next_batch_back() -> None:
    """The instance thread starts the next queued batch while the loop is blocked (it waits only for delivery)."""
    started = threading.Event()
    calls: list[float] = []

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(time.perf_counter())
        if len(calls) == 2:
            started.set()
        return echo(batch)

    async def main() -> None:
        batcher = MicroBatcher(run, max_batch=1, instances=1)
        try:
            tasks = [asyncio.ensure_future(batcher.submit(rows(v))) for v in (1, 2)]
            await asyncio.sleep(0)  # both queued
            assert started.wait(2), "the second batch did not start while the loop was blocked"
            await asyncio.gather(*tasks)
        finally:
            batcher.close()

    asyncio.run(main())
