"""What the gateway needs from a backend, and the in-process micro-batcher the embedded backend uses."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rare.modelspec import ModelSpec
from service.errors import BackendUnavailable


@dataclass
class BackendStatus:
    ready: bool
    detail: str


class Backend(Protocol):
    kind: str  # "onnxruntime" or "triton"
    spec: ModelSpec | None  # known once the backend has validated the model
    max_batch_size: int
    parallelism: int  # batches the backend runs at once (its model instances): the pipeline splits big requests

    async def start(self) -> None:
        """Load or connect; never raises for an unavailable model (status() says why)."""

    async def status(self) -> BackendStatus: ...

    async def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 [N, 3, 32, 100] (N <= max_batch_size) -> class ids [N, 25] and their probabilities [N, 25]."""

    async def close(self) -> None: ...


@dataclass
class _Pending:
    batch: np.ndarray
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Runs a blocking batch function on ``instances`` threads, merging the calls that queue up meanwhile.

    No added delay: a call starts at once on a free instance; while all instances are busy, new calls wait and
    the next free instance takes all of them (up to ``max_batch`` rows). Under load this turns many small requests
    into few large inference calls, like Triton's dynamic batcher with ``instances`` model instances.
    """

    def __init__(
        self, run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], max_batch: int, instances: int = 1
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._free = instances
        self._queue: deque[_Pending] = deque()
        self._running: set[asyncio.Task] = set()
        self._executor = ThreadPoolExecutor(max_workers=instances, thread_name_prefix="inference")
        self._closed = False

    async def submit(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(batch, future))
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        """Hand queued calls to free instances, as merged batches of at most ``max_batch`` rows (one call may be
        larger: it runs alone)."""
        if self._closed:  # nothing new starts: every queued caller is told at once
            _fail(list(self._queue), _shutting_down())
            self._queue.clear()
            return
        while self._queue and self._free > 0:
            taken, rows = [], 0
            while self._queue and (not taken or rows + len(self._queue[0].batch) <= self._max_batch):
                item = self._queue.popleft()
                if not item.future.done():  # a caller that gave up (cancelled) costs no inference
                    taken.append(item)
                    rows += len(item.batch)
            if taken:
                self._free -= 1
                task = asyncio.create_task(self._run_batch(taken))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _run_batch(self, taken: list[_Pending]) -> None:
        merged = taken[0].batch if len(taken) == 1 else np.concatenate([t.batch for t in taken])
        try:
            ids, scores = await asyncio.get_running_loop().run_in_executor(self._executor, self._run, merged)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, who maps it
            _fail(taken, exc)
        else:
            start = 0
            for item in taken:
                end = start + len(item.batch)
                if not item.future.done():
                    item.future.set_result((ids[start:end], scores[start:end]))
                start = end
        finally:  # cancelled (shutdown): no caller may wait for ever
            _fail(taken, _shutting_down())
            if not self._closed:
                self._free += 1
                self._dispatch()

    def close(self) -> None:
        """Stop taking work: queued callers get BackendUnavailable; a batch already running finishes."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._dispatch()


def _shutting_down() -> BackendUnavailable:
    return BackendUnavailable("the embedded backend is shutting down", retry_after=1)


def _fail(items: list[_Pending], exc: BaseException) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(exc)
