"""What the gateway needs from a backend: the ``Backend`` Protocol (routes and tests depend on it, not on a class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from rare.modelspec import ModelSpec


class Answer(NamedTuple):
    """What a backend returns for a batch: per-step class ids [N, 25], their probabilities [N, 25], and the version
    of the model that answered (Triton may serve several, and switch between them)."""

    ids: np.ndarray
    scores: np.ndarray
    version: str


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

    async def infer(self, batch: np.ndarray) -> Answer:
        """float32 [N, 3, 32, 100] (N <= max_batch_size) -> class ids, probabilities and the answering version."""

    async def close(self) -> None: ...
