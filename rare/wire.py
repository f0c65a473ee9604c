"""The /recognize wire format as the client speaks it: inputs to request parts, requests within the server's limits,
responses to results (needs only httpx)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rare.errors import RareError
from rare.formats import png_bytes


class ClientError(RareError, RuntimeError):
    """The server refused the request for good (4xx), or stayed unavailable through every retry."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Result:
    """One crop: the text and confidences, or the error that stands for them (``error`` is a machine code)."""

    name: str | None
    text: str | None = None
    confidence: float | None = None
    char_confidences: list[float] | None = None
    error: str | None = None
    message: str | None = None
    lexicon_word: str | None = None  # with a lexicon: the candidate that best explains the reading
    lexicon_score: float | None = None


@dataclass(frozen=True)
class Limits:
    max_images: int
    max_image_bytes: int
    max_request_bytes: int


@dataclass
class Item:
    index: int
    name: str | None
    data: bytes | None = None
    error: Result | None = None


def item_of(index: int, source: str | Path | bytes | Any) -> Item:
    if isinstance(source, bytes | bytearray):
        return Item(index, f"{index}.img", bytes(source))
    if isinstance(source, str | Path):
        try:
            return Item(index, str(source), Path(source).read_bytes())
        except OSError as exc:
            return Item(index, str(source), error=Result(str(source), error="unreadable_file", message=str(exc)))
    try:
        return Item(index, f"{index}.png", png_bytes(source))
    except (ValueError, AttributeError) as exc:
        return Item(index, f"{index}.png", error=Result(f"{index}.png", error="invalid_array", message=str(exc)))


def batches_of(items: list[Item], limits: Limits, fields: dict[str, str] | None = None) -> list[list[Item]]:
    """Requests of at most ``max_images`` crops and ``max_request_bytes``, with room for the multipart framing and
    the text ``fields`` every request carries (a lexicon may take up to a mebibyte)."""
    batches: list[list[Item]] = [[]]
    size = 0
    budget = limits.max_request_bytes - 4096 - sum(len(v.encode()) + 256 for v in (fields or {}).values())
    for item in items:
        cost = len(item.data or b"") + 256
        if batches[-1] and (len(batches[-1]) >= limits.max_images or size + cost > budget):
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += cost
    return [batch for batch in batches if batch]


def prepare(
    sources: Sequence[Any], limits: Limits, fields: dict[str, str] | None = None
) -> tuple[dict[int, Result], list[list[Item]]]:
    """Results known without asking (unreadable, too large), and the requests for the rest (each with ``fields``)."""
    items = [item_of(i, source) for i, source in enumerate(sources)]
    done = {item.index: item.error for item in items if item.error is not None}
    for item in items:
        if item.data is not None and len(item.data) > limits.max_image_bytes:
            message = f"{len(item.data)} bytes; the server takes at most {limits.max_image_bytes} per image"
            done[item.index] = Result(item.name, error="image_too_large", message=message)
    return done, batches_of([i for i in items if i.index not in done], limits, fields)


def files_of(batch: list[Item]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("images", (Path(item.name or "crop").name, item.data or b"", "application/octet-stream")) for item in batch
    ]


def lexicon_fields(lexicon: Sequence[str] | None, lexicon_name: str | None) -> dict[str, str]:
    """The multipart text fields that ask for lexicon-constrained reading."""
    fields = {"lexicon": "\n".join(lexicon)} if lexicon is not None else {}
    return {**fields, "lexicon_name": lexicon_name} if lexicon_name is not None else fields


def ok(response: httpx.Response) -> httpx.Response:
    """The response if it is a 200; any other final status raises :class:`ClientError` with the server's reason."""
    if response.status_code != 200:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": "http_error", "message": response.text[:200]}
        raise ClientError(
            f"{response.status_code} {error['code']}: {error['message']}", response.status_code, error["code"]
        )
    return response


def parse_results(batch: list[Item], response: httpx.Response) -> dict[int, Result]:
    """A 200's results by input index."""
    ok(response)
    out = {}
    for item, crop in zip(batch, response.json()["results"], strict=True):
        err, match = crop.get("error") or {}, crop.get("lexicon_match") or {}
        out[item.index] = Result(
            item.name,
            crop.get("text"),
            crop.get("confidence"),
            crop.get("char_confidences"),
            err.get("code"),
            err.get("message"),
            match.get("word"),
            match.get("score"),
        )
    return out


def limits_of(body: dict) -> Limits:
    limits = body.get("limits") or {}
    return Limits(
        limits.get("max_images", 64), limits.get("max_image_bytes", 2 << 20), limits.get("max_request_bytes", 32 << 20)
    )


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}
