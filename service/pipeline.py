"""Uploads -> decoded crops -> the model library's preprocessing -> backend (chunked, concurrent) -> text."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import numpy as np

from rare.codec import LabelCodec, Recognition
from rare.images import ImageDecodeError, ImageHeader, ImageTooLargeError, decode_probed, probe
from rare.lexicon import Lexicon
from rare.modelspec import ModelSpec
from rare.onnx_runtime import usable_cores
from rare.orientation import Orientation
from rare.preprocess import ImageError
from service import metrics
from service.admission import Admission
from service.backends.base import Answer, Backend, BackendStatus
from service.errors import BackendUnavailable, GatewayError
from service.lexicons import Lexicons
from service.schemas import CropResult, ItemError, LexiconMatch, ModelInfo
from service.settings import Settings
from service.uploads import Upload, Uploads

T = TypeVar("T")
log = logging.getLogger("rare.gateway")

# A small request is decoded on the event loop: handing a few crops (~0.15 ms each) to a thread costs more than
# decoding them. Small means few files, few bytes, and few pixels declared in the headers (a tiny file may declare
# millions): at most about a millisecond of the loop. Anything larger decodes on the thread pool.
INLINE_DECODE_FILES = 8
INLINE_DECODE_BYTES = 64 * 1024
INLINE_DECODE_PIXELS = 256 * 1024


class Pipeline:
    def __init__(self, backend: Backend, settings: Settings, admission: Admission | None = None) -> None:
        self.backend = backend
        self.settings = settings
        self.admission = admission or Admission(settings)
        self.lexicons = Lexicons(settings)
        self._codec: tuple[ModelSpec, LabelCodec] | None = None  # built once per spec, not per request
        self._decoders: anyio.CapacityLimiter | None = None  # made on the event loop, at the first large request

    @property
    def spec(self) -> ModelSpec | None:
        """The served model's spec, once the backend has validated it."""
        return self.backend.spec

    @property
    def kind(self) -> str:
        return self.backend.kind

    @property
    def max_batch_size(self) -> int:
        return self.backend.max_batch_size

    async def status(self) -> BackendStatus:
        return await self.backend.status()

    def model_info(self, version: str | None = None) -> ModelInfo:
        """Which model answered (name, the version that answered, backend), for every response."""
        spec = self.backend.spec
        if spec is None:  # the backend lost its model between the answer and now
            raise BackendUnavailable("model not ready", retry_after=self.settings.retry_after_s)
        return ModelInfo(name=spec.model_name, version=version or spec.model_version, backend=self.backend.kind)

    async def recognize(self, request: Uploads) -> tuple[list[CropResult], str | None]:
        """Decode, infer and decode the outputs (and match the lexicon, if the request has one), holding one of the
        worker's recognition slots meanwhile."""
        with self.admission.slot():
            return await self._recognize(request)

    async def _recognize(self, request: Uploads) -> tuple[list[CropResult], str | None]:
        uploads = request.crops
        spec = self.backend.spec
        if spec is None:
            status = await self.backend.status()
            spec = self.backend.spec
            if spec is None:  # the reason (a path, an address) goes to the log, not to clients
                log.warning("recognize refused, model not ready: %s", status.detail)
                raise BackendUnavailable("the model is not ready", retry_after=self.settings.retry_after_s)
        lexicon = await self._lexicon(request, spec)  # a bad one fails before any work
        errors = [u.error for u in uploads]
        headers = _small_request_headers(uploads)
        if headers is not None:
            batch, owners = self._decode_and_preprocess(spec, uploads, errors, headers)
        else:  # on a few threads only: each holds one full-size decode at a time
            if self._decoders is None:
                self._decoders = anyio.CapacityLimiter(self.settings.decode_threads or usable_cores())
            batch, owners = await anyio.to_thread.run_sync(
                self._decode_and_preprocess, spec, uploads, errors, limiter=self._decoders
            )
        recognized: dict[int, Recognition] = {}
        version = None
        good = sorted(set(owners))
        if good:
            ids, scores, version = await self._infer(batch)
            start = time.perf_counter()
            readings = self.orientation(spec).choose(self.codec(spec).decode_ids(ids, scores), owners)
            recognized = dict(zip(good, readings, strict=True))
            metrics.STAGE["postprocess"].observe(time.perf_counter() - start)
        metrics.CROPS_RECOGNIZED.inc(len(good))
        metrics.CROPS_FAILED.inc(len(uploads) - len(good))
        matches = await _match(lexicon, recognized) if lexicon is not None and recognized else {}
        results = [_result(i, u.filename, recognized.get(i), errors[i], matches.get(i)) for i, u in enumerate(uploads)]
        return results, version

    async def _lexicon(self, request: Uploads, spec: ModelSpec) -> Lexicon | None:
        """The request's lexicon; its own words are normalized on a thread (100,000 of them take a while)."""
        if request.lexicon is None:
            return self.lexicons.for_request(request, self.codec(spec))
        return await anyio.to_thread.run_sync(self.lexicons.for_request, request, self.codec(spec))

    def codec(self, spec: ModelSpec) -> LabelCodec:
        if self._codec is None or self._codec[0] is not spec:
            self._codec = (spec, spec.codec())
        return self._codec[1]

    def orientation(self, spec: ModelSpec) -> Orientation:
        """How crops are read (rare.orientation): the model's policy, without its nudges when RARE_NUDGES is off."""
        return spec.orientation if self.settings.nudges else spec.orientation.without_nudges()

    def _decode_and_preprocess(
        self,
        spec: ModelSpec,
        uploads: list[Upload],
        errors: list[ItemError | None],
        headers: list[ImageHeader | None] | None = None,
    ) -> tuple[np.ndarray, list[int]]:
        """Decode each crop (with its header when already probed) and shrink it to the model input at once, so at
        most one full-size decode is alive per decoding thread; crops past the request's pixel budget are refused.
        Returns the rows and, for each, the index of its crop (a tall crop gives three views: rare.orientation).
        ``spec`` is the one the request started with: the backend may lose its model meanwhile."""
        rows, owners, budget = [], [], self.settings.max_request_pixels
        policy = self.orientation(spec)
        timer = _StageTimer()
        for i, upload in enumerate(uploads):
            if upload.data is None:
                continue
            try:
                header = headers[i] if headers is not None else probe(upload.data)
                pixels = header.width * header.height if header is not None else 0
                if pixels > budget and pixels <= self.settings.max_image_pixels:  # refused: it costs nothing
                    raise ImageTooLargeError(
                        f"the request's crops exceed its budget of {self.settings.max_request_pixels:,} decoded "
                        "pixels (RARE_MAX_REQUEST_PIXELS): send this one in another request"
                    )
                budget -= pixels if pixels <= self.settings.max_image_pixels else 0  # too large alone: refused below
                crop = timer.time("decode", decode_probed, upload.data, header, self.settings.max_image_pixels)
                views = policy.views(crop)
                rows += list(timer.time("preprocess", spec.preprocess, views))
                owners += [i] * len(views)
            except ImageTooLargeError as exc:
                errors[i] = ItemError(code="image_too_large", message=str(exc))
            except (ImageDecodeError, ImageError) as exc:
                errors[i] = ItemError(code="undecodable_image", message=str(exc))
        timer.observe()
        return (np.stack(rows) if rows else np.zeros((0, *spec.image_shape), np.float32)), owners

    async def _infer(self, batch: np.ndarray) -> Answer:
        """Chunks sent concurrently: at most the backend's max batch, and one per model instance, so that one big
        request keeps every instance busy (the backend merges chunks again under load)."""
        start = time.perf_counter()
        size = min(self.backend.max_batch_size, math.ceil(len(batch) / self.backend.parallelism))
        chunks = [batch[i : i + size] for i in range(0, len(batch), size)]
        for chunk in chunks:
            metrics.BATCH_SIZE.observe(len(chunk))
        outputs = await self._infer_chunks(chunks)
        metrics.STAGE["infer"].observe(time.perf_counter() - start)
        if len(outputs) == 1:
            return outputs[0]
        versions = ",".join(sorted({o.version for o in outputs}))  # two during a switch of versions
        return Answer(np.concatenate([o.ids for o in outputs]), np.concatenate([o.scores for o in outputs]), versions)

    async def _infer_chunks(self, chunks: list[np.ndarray]) -> list[Answer]:
        """All chunks at once; the first failure cancels the others (no work for an answer nobody will read)."""
        if len(chunks) == 1:
            return [await self.backend.infer(chunks[0])]
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.backend.infer(chunk)) for chunk in chunks]
        except ExceptionGroup as failed:
            first = failed.exceptions[0]
            raise next((e for e in failed.exceptions if isinstance(e, GatewayError)), first) from None
        return [task.result() for task in tasks]


class _StageTimer:
    """Seconds spent per stage over a loop of calls, observed once."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"decode": 0.0, "preprocess": 0.0}

    def time(self, stage: str, func: Callable[..., T], *args: object) -> T:
        start = time.perf_counter()
        try:
            return func(*args)
        finally:
            self.seconds[stage] += time.perf_counter() - start

    def observe(self) -> None:
        for stage, seconds in self.seconds.items():
            metrics.STAGE[stage].observe(seconds)


def _small_request_headers(uploads: list[Upload]) -> list[ImageHeader | None] | None:
    """The probed headers when the request is small enough to decode on the event loop, else None."""
    files = [u.data for u in uploads if u.data is not None]
    if len(files) > INLINE_DECODE_FILES or sum(len(data) for data in files) > INLINE_DECODE_BYTES:
        return None
    headers = [probe(u.data) if u.data is not None else None for u in uploads]
    if any(h is None for h, u in zip(headers, uploads, strict=True) if u.data is not None):
        return None  # a format Pillow cannot read: its size is unknown
    pixels = sum(h.width * h.height for h in headers if h is not None)
    return headers if pixels <= INLINE_DECODE_PIXELS else None


async def _match(lexicon: Lexicon, read: dict[int, Recognition]) -> dict[int, LexiconMatch]:
    """The lexicon matched against every reading (on a thread: 1,000 candidates take about 0.5 ms a crop)."""

    def match_all() -> dict[int, LexiconMatch]:
        found = {i: lexicon.match(r.text, r.char_confidences) for i, r in read.items()}
        return {i: LexiconMatch.model_construct(word=m.word, score=m.score) for i, m in found.items()}

    return await anyio.to_thread.run_sync(match_all)


def _result(
    index: int, filename: str | None, rec: Recognition | None, error: ItemError | None, match: LexiconMatch | None
) -> CropResult:
    """One crop's result, built from values the gateway made itself (no validation: the response is hot)."""
    if rec is None:
        return CropResult.model_construct(index=index, filename=filename, error=error)
    return CropResult.model_construct(
        index=index,
        filename=filename,
        text=rec.text,
        confidence=rec.confidence,
        char_confidences=rec.char_confidences,
        lexicon_match=match,
    )
