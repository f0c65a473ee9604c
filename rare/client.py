"""A Python client of the gateway, sync (:class:`Client`) and async (:class:`AsyncClient`); it needs only httpx.

    from rare.client import Client
    with Client("http://127.0.0.1:8080", api_key=None) as client:
        for result in client.recognize(["word.png", b"<png bytes>", bgr_array]):
            print(result.text, result.confidence)

Inputs are file paths, encoded image bytes, or uint8 numpy arrays (BGR or gray; encoded here as PNG, so OpenCV is
not needed). Work is split into requests of the server's published limits (``GET /v1/models``), sent with bounded
concurrency, and retried with backoff on 429, 503 and connection errors, honouring ``Retry-After``. Results come
back in input order; a crop the server could not read, or a file that could not be read here, is a result with an
``error``, never an exception. What cannot be recovered raises a :class:`ClientError`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from rare.wire import (
    ClientError,
    Item,
    Limits,
    Result,
    auth_headers,
    files_of,
    lexicon_fields,
    limits_of,
    ok,
    parse_results,
    prepare,
)

RETRY_STATUSES = {429, 503}
__all__ = ["AsyncClient", "Client", "ClientError", "Limits", "Result"]


@dataclass
class _Retry:
    # backoff 0.25 s doubling to 20 s, each wait jittered to 50-100 %: 12 attempts wait 56-112 s in all, what a
    # gateway may take to restart on a loaded machine (model load, engine compiles and the per-batch-size plan)
    attempts: int = 12
    base_s: float = 0.25
    cap_s: float = 20.0
    sleep: Callable[[float], Any] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return max(0.05, min(float(retry_after), self.cap_s))
        return min(self.cap_s, self.base_s * 2**attempt) * random.uniform(0.5, 1.0)

    def judge(self, attempt: int, outcome: httpx.Response | httpx.TransportError) -> tuple[str, float]:
        """What happened, and how long to wait before the next attempt (0: the outcome is final)."""
        if isinstance(outcome, httpx.TransportError):
            return f"connection failed: {outcome}", self.delay(attempt, None)
        if outcome.status_code in RETRY_STATUSES:
            return f"{outcome.status_code} {outcome.text[:200]}", self.delay(
                attempt, outcome.headers.get("retry-after")
            )
        return "", 0.0

    def given_up(self, last: str) -> ClientError:
        return ClientError(f"the server stayed unavailable after {self.attempts} attempts: {last}")


def _http_options(url: str, api_key: str | None, timeout: float) -> dict[str, Any]:
    return {"base_url": url.rstrip("/"), "headers": auth_headers(api_key), "timeout": timeout}


class Client:
    """Synchronous client: ``concurrency`` requests at once on a thread pool."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = httpx.Client(**_http_options(url, api_key, timeout), transport=transport)
        self.concurrency, self.retry = max(1, concurrency), _Retry()
        self._cached_limits: Limits | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def limits(self) -> Limits:
        if self._cached_limits is None:
            self._cached_limits = limits_of(ok(self._call(lambda: self.http.get("/v1/models"))).json())
        return self._cached_limits

    def recognize(
        self, sources: Sequence[Any], lexicon: Sequence[str] | None = None, lexicon_name: str | None = None
    ) -> list[Result]:
        """Results in input order; with ``lexicon`` (candidate words) or ``lexicon_name`` (one the server holds)
        each also names the candidate that best explains its reading."""
        from concurrent.futures import ThreadPoolExecutor

        fields = lexicon_fields(lexicon, lexicon_name)
        done, batches = prepare(sources, self.limits(), fields)
        with ThreadPoolExecutor(self.concurrency) as pool:
            for answered in pool.map(lambda batch: self._send(batch, fields), batches):
                done.update(answered)
        return [done[i] for i in range(len(sources))]

    def _send(self, batch: list[Item], fields: dict[str, str]) -> dict[int, Result]:
        return parse_results(
            batch, self._call(lambda: self.http.post("/recognize", files=files_of(batch), data=fields))
        )

    def _call(self, request: Callable[[], httpx.Response]) -> httpx.Response:
        last = ""
        for attempt in range(self.retry.attempts):
            try:
                outcome: httpx.Response | httpx.TransportError = request()
            except httpx.TransportError as exc:
                outcome = exc
            last, wait = self.retry.judge(attempt, outcome)
            if not wait:
                return outcome  # type: ignore[return-value]
            self.retry.sleep(wait)
        raise self.retry.given_up(last)


class AsyncClient:
    """Asynchronous client: ``concurrency`` requests at once on the running event loop."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.http = httpx.AsyncClient(**_http_options(url, api_key, timeout), transport=transport)
        self.gate = asyncio.Semaphore(max(1, concurrency))
        self.retry = _Retry(sleep=asyncio.sleep)
        self._cached_limits: Limits | None = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def limits(self) -> Limits:
        if self._cached_limits is None:
            self._cached_limits = limits_of(ok(await self._call(lambda: self.http.get("/v1/models"))).json())
        return self._cached_limits

    async def recognize(
        self, sources: Sequence[Any], lexicon: Sequence[str] | None = None, lexicon_name: str | None = None
    ) -> list[Result]:
        """As :meth:`Client.recognize`."""
        fields = lexicon_fields(lexicon, lexicon_name)
        done, batches = prepare(sources, await self.limits(), fields)
        for answered in await asyncio.gather(*(self._send(batch, fields) for batch in batches)):
            done.update(answered)
        return [done[i] for i in range(len(sources))]

    async def _send(self, batch: list[Item], fields: dict[str, str]) -> dict[int, Result]:
        async with self.gate:
            post = self.http.post
            return parse_results(
                batch, await self._call(lambda: post("/recognize", files=files_of(batch), data=fields))
            )

    async def _call(self, request: Callable[[], Any]) -> httpx.Response:
        last = ""
        for attempt in range(self.retry.attempts):
            try:
                outcome: httpx.Response | httpx.TransportError = await request()
            except httpx.TransportError as exc:
                outcome = exc
            last, wait = self.retry.judge(attempt, outcome)
            if not wait:
                return outcome  # type: ignore[return-value]
            await self.retry.sleep(wait)
        raise self.retry.given_up(last)
