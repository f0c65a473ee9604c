"""``MicroBatcher``: the embedded backend's dynamic batching, in-process (benchmarks time the bare engine with it)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from service.errors import BackendUnavailable
from service.metrics import INFERENCE_BATCH


@dataclass(eq=False)  # identity: held in a set while its rows run
class _Pending:
    batch: np.ndarray
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Runs a blocking batch function on ``instances`` threads, merging the calls that queue up meanwhile.

    No added delay: a call starts at once on a free instance; while all instances are busy, new calls wait and
    the next free instance takes all of them (up to ``max_batch`` rows), or its share while others are idle.
    Under load this turns many small requests into few large inference calls, like Triton's dynamic batcher with
    ``instances`` model instances.

    Each instance is a thread that takes its next batch itself: a busy event loop (HTTP parsing, JSON) delays
    only the delivery of results, never the start of the next inference.
    """

    def __init__(
        self,
        run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        max_batch: int,
        instances: int = 1,
        retry_after: int = 1,
    ) -> None:
        self._run = run
        self._retry_after = retry_after  # what callers refused at shutdown are told
        self._max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._running: set[_Pending] = set()  # callers whose rows are inside an inference now
        self._ready = threading.Condition()
        self._closed = False
        self._idle = 0  # instances waiting for work
        for i in range(instances):
            threading.Thread(target=self._serve, name=f"inference-{i}", daemon=True).start()

    async def submit(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pending = _Pending(batch, asyncio.get_running_loop().create_future())
        with self._ready:
            if self._closed:
                raise _shutting_down(self._retry_after)
            self._queue.append(pending)
            self._ready.notify()
        return await pending.future

    def _serve(self) -> None:
        """One instance: take the queued calls as one batch, run it, hand the rows back to each caller's loop."""
        while (taken := self._take()) is not None:
            merged = taken[0].batch if len(taken) == 1 else np.concatenate([t.batch for t in taken])
            INFERENCE_BATCH.observe(len(merged))
            try:
                outcome: tuple[np.ndarray, np.ndarray] | BaseException = self._run(merged)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, who maps it
                outcome = exc
            with self._ready:
                self._running.difference_update(taken)
            _deliver(taken, outcome)

    def _take(self) -> list[_Pending] | None:
        """The next batch (None once closed): the queued calls up to ``max_batch`` rows, or this instance's share of
        them while other instances are idle, so that two calls on two free instances run side by side."""
        with self._ready:
            taken: list[_Pending] = []
            while not taken:
                while not self._queue and not self._closed:
                    self._idle += 1
                    self._ready.wait()
                    self._idle -= 1
                if self._closed:
                    return None
                queued = sum(len(item.batch) for item in self._queue)
                share = min(self._max_batch, math.ceil(queued / (self._idle + 1)))
                rows = 0
                while self._queue and (not taken or rows + len(self._queue[0].batch) <= share):
                    item = self._queue.popleft()
                    if not item.future.done():  # a caller that gave up (cancelled) costs no inference
                        taken.append(item)
                        rows += len(item.batch)
            if self._queue:
                self._ready.notify()  # the rest is for an idle instance
            self._running.update(taken)
            return taken

    def close(self) -> None:
        """Stop taking work: every caller still waiting, queued or inside a running batch, gets BackendUnavailable
        (the running inference finishes on its thread; its rows are dropped)."""
        with self._ready:
            self._closed = True
            waiting = [*self._queue, *self._running]
            self._queue.clear()
            self._ready.notify_all()
        _deliver(waiting, _shutting_down(self._retry_after))


def _shutting_down(retry_after: int) -> BackendUnavailable:
    return BackendUnavailable("the embedded backend is shutting down", retry_after=retry_after)


def _deliver(items: list[_Pending], outcome: tuple[np.ndarray, np.ndarray] | BaseException) -> None:
    """Settle each caller's future on its own event loop (safe from any thread): one wake-up per loop, with each
    caller's slice of the batch's rows."""
    settle: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, object]]] = {}
    start = 0
    for item in items:
        end = start + len(item.batch)
        result = outcome if isinstance(outcome, BaseException) else (outcome[0][start:end], outcome[1][start:end])
        settle.setdefault(item.future.get_loop(), []).append((item.future, result))
        start = end
    for loop, results in settle.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, results)


def _settle(results: list[tuple[asyncio.Future, object]]) -> None:
    for future, result in results:
        if future.done():  # cancelled, or already failed by close()
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
