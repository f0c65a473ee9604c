"""A fake backend for in-process gateway tests: the ``Backend`` Protocol, no model, answers that show the input."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rare.codec import LabelCodec
from rare.modelspec import ModelSpec, our_io
from service.backends.base import Answer, BackendStatus


def fake_spec() -> ModelSpec:
    codec = LabelCodec()
    images, outputs = our_io(codec.num_classes)
    return ModelSpec("fake_model", "7", list(codec.characters), images, outputs)


@dataclass
class FakeBackend:
    """Reads every crop as the width its preprocessed row fills (in digits), so order and preprocessing show.

    Set ``error`` to make every inference raise it, or ``ready`` False to withdraw the model."""

    kind: str = "fake"
    spec: ModelSpec | None = field(default_factory=fake_spec)
    max_batch_size: int = 32
    parallelism: int = 1
    ready: bool = True
    error: Exception | None = None  # a GatewayError, or any other exception as a defect would raise
    batches: list[int] = field(default_factory=list)  # the size of every batch inferred

    async def start(self) -> None:
        pass

    async def status(self) -> BackendStatus:
        return BackendStatus(self.ready, "fake model loaded" if self.ready else "fake model withdrawn")

    async def infer(self, batch: np.ndarray) -> Answer:
        if self.error is not None:
            raise self.error
        self.batches.append(len(batch))
        codec = LabelCodec()
        filled = (batch != 0).any(axis=(1, 2)).sum(axis=1)  # [N, 3, 32, 100] -> columns with ink or paper [N]
        ids = np.stack([codec.encode(str(int(width))) for width in filled])  # [N, 25]: sos, digits, eos, sos...
        return Answer(ids.astype(np.int32), np.full(ids.shape, 0.9, dtype=np.float32), self.spec.model_version)

    async def close(self) -> None:
        pass
