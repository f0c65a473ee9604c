"""What the gateway needs from a backend: the ``Backend`` Protocol (routes and tests depend on it, not on a class)."""

from __future__ import annotations

from dataclasses import dataclass
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
    parallelism: int  # batches the backend runs at once (its model instances): the pipeline splits big requests

    async def start(self) -> None:
        """Load or connect; never raises for an unavailable model (status() says why)."""

    async def status(self) -> BackendStatus: ...

    async def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 [N, 3, 32, 100] (N <= max_batch_size) -> class ids [N, 25] and their probabilities [N, 25]."""

    async def close(self) -> None: ...
