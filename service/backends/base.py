"""What the gateway needs from a backend, and the in-process micro-batcher the embedded backend uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rare.modelspec import ModelSpec


@dataclass
class BackendStatus:
    ready: bool
    detail: str


class Backend(Protocol):
    kind: str  # "onnxruntime" or "triton"
    spec: ModelSpec | None  # known once the backend has validated the model
    max_batch_size: int

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
    """Runs a blocking batch function on one thread, merging the calls that queue up meanwhile.

    No added delay: while one batch runs, new calls wait; the next run takes all of them (up to ``max_batch``
    rows). Under load this turns many small requests into few large inference calls, like Triton's batcher.
    """

    def __init__(self, run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], max_batch: int) -> None:
        self._run = run
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._worker: asyncio.Task | None = None

    async def submit(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(batch, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            taken, rows = [], 0
            while self._queue and (not taken or rows + len(self._queue[0].batch) <= self._max_batch):
                item = self._queue.pop(0)
                taken.append(item)
                rows += len(item.batch)
            merged = taken[0].batch if len(taken) == 1 else np.concatenate([t.batch for t in taken])
            try:
                ids, scores = await loop.run_in_executor(self._executor, self._run, merged)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, who maps it
                for item in taken:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            start = 0
            for item in taken:
                end = start + len(item.batch)
                if not item.future.done():
                    item.future.set_result((ids[start:end], scores[start:end]))
                start = end

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
