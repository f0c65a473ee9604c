"""What a worker admits at once: requests being recognized (slots) and request bodies held in memory (bytes).

A slot is taken only once a request's body has arrived, when its crops are decoded and inferred: a client that
uploads slowly, or stalls, holds no slot. Bodies are bounded apart, by the bytes all requests hold together, so
many slow uploads cannot exhaust memory either. Both limits answer 429 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from service import metrics
from service.errors import Overloaded
from service.settings import Settings


class Admission:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.in_flight = 0  # requests being recognized
        self.body_bytes = 0  # request body bytes held by requests in progress

    def overloaded(self, declared_bytes: int = 0) -> Overloaded | None:
        """Why a new request would be refused now (before its body is read), or None."""
        if self.in_flight >= self.settings.max_in_flight:
            return self._refusal(f"{self.in_flight} requests in flight")
        if declared_bytes and self.body_bytes + declared_bytes > self.settings.max_body_bytes_in_flight:
            return self._refusal(f"{self.body_bytes} request bytes held in memory")
        return None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one recognition slot for the block; raises :class:`Overloaded` when none is free."""
        if self.in_flight >= self.settings.max_in_flight:
            raise self._refusal(f"{self.in_flight} requests in flight")
        self.in_flight += 1
        metrics.IN_FLIGHT.inc()
        try:
            yield
        finally:
            self.in_flight -= 1
            metrics.IN_FLIGHT.dec()

    def take_body(self, size: int) -> None:
        """Count ``size`` more body bytes held; raises :class:`Overloaded` past the worker's budget."""
        if self.body_bytes + size > self.settings.max_body_bytes_in_flight:
            raise self._refusal(f"{self.body_bytes} request bytes held in memory")
        self.body_bytes += size

    def release_body(self, size: int) -> None:
        self.body_bytes -= size

    def _refusal(self, why: str) -> Overloaded:
        return Overloaded(f"{why}; retry later", retry_after=self.settings.retry_after_s)
