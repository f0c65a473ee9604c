"""Turn a /recognize request (multipart files or JSON base64) into a list of uploads, enforcing the limits.

Request-level problems raise (4xx for the whole request); a problem with one crop (too large, invalid base64)
becomes that crop's error and the others are still recognized.

Multipart bodies are parsed as they stream in, and nothing is spooled to disk: each file part of the ``images``
field is kept only up to ``max_image_bytes`` (past that its bytes are counted and dropped, and the crop answers
``image_too_large``); a part beyond ``max_images`` ends the request at once (413), and so does a text value in
``images`` (400). Other fields are skipped unread, at most ``MAX_OTHER_FIELDS``. So one request never holds more
than ``max_images * max_image_bytes`` of crops.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from pydantic import ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from service.errors import MalformedBody, NoImages, TooManyImages, UnsupportedMediaType
from service.schemas import ItemError, RecognizeJSON
from service.settings import Settings

FIELD = "images"
MAX_OTHER_FIELDS = 16
TEXT_FIELDS = ("lexicon", "lexicon_name")  # multipart: candidate words, one a line; a lexicon the server holds
MAX_LEXICON_BYTES = 1024 * 1024


@dataclass
class Upload:
    filename: str | None
    data: bytes | None = None
    error: ItemError | None = None


@dataclass
class Uploads:
    """What a /recognize request carries: its crops, and optionally candidate words or a server lexicon's name."""

    crops: list[Upload]
    lexicon: list[str] | None = None
    lexicon_name: str | None = None


async def read_uploads(request: Request, settings: Settings) -> Uploads:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        uploads = await _read_multipart(request, request.headers["content-type"], settings)
    elif content_type == "application/json":
        uploads = await _read_json(request, settings)
    else:
        raise UnsupportedMediaType(
            f"content type {content_type or '(none)'!r} is not supported: send "
            f"multipart/form-data with files in field 'images', or application/json"
        )
    if not uploads.crops:
        raise NoImages(f"no images: send one or more files in the multipart field {FIELD!r}")
    return uploads


def _check_count(count: int, settings: Settings) -> None:
    if count > settings.max_images:
        raise TooManyImages(f"{count} images in one request; the limit is {settings.max_images} (RARE_MAX_IMAGES)")


def _too_large(size: int, settings: Settings) -> ItemError:
    return ItemError(
        code="image_too_large",
        message=f"{size} bytes; the limit is {settings.max_image_bytes} per image (RARE_MAX_IMAGE_BYTES)",
    )


async def _read_json(request: Request, settings: Settings) -> Uploads:
    try:
        body = RecognizeJSON.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "too_short" and first["loc"] == ("images",):
            raise NoImages("no images: 'images' is an empty list") from None
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise MalformedBody(f"invalid JSON body at {where}: {first['msg']}") from None
    _check_count(len(body.images), settings)
    if body.lexicon is not None and sum(len(w) + 1 for w in body.lexicon) > MAX_LEXICON_BYTES:
        raise MalformedBody(f"the lexicon holds more than {MAX_LEXICON_BYTES} characters")
    names = body.filenames or []
    crops = [_decode_base64(text, names[i] if i < len(names) else None, settings) for i, text in enumerate(body.images)]
    return Uploads(crops, body.lexicon, body.lexicon_name)


def _decode_base64(text: str, filename: str | None, settings: Settings) -> Upload:
    if len(text) * 3 // 4 > settings.max_image_bytes + 3:
        return Upload(filename, error=_too_large(len(text) * 3 // 4, settings))
    payload = text.partition(",")[2] if text.startswith("data:") else text  # a data: URL without a comma is empty
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data:
        return Upload(filename, error=ItemError(code="invalid_base64", message="not valid base64, or empty"))
    return Upload(filename, data)


class _Parts:
    """The parser's callbacks: collect the ``images`` file parts under the limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uploads: list[Upload] = []
        self.others = 0
        self._header = [bytearray(), bytearray()]  # name, value of the header being read
        self._disposition = b""
        self._buffer: bytearray | None = None  # the current image part; None: a part we skip
        self.texts: dict[str, bytearray] = {}  # the text fields of TEXT_FIELDS
        self._text: bytearray | None = None
        self._size = 0

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._header[0].extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header[1].extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    @property
    def inside_part(self) -> bool:
        return self._buffer is not None

    def _begin(self) -> None:
        self._disposition, self._buffer, self._text, self._size = b"", None, None, 0

    def _header_end(self) -> None:
        if bytes(self._header[0]).lower() == b"content-disposition":
            self._disposition = bytes(self._header[1])
        self._header = [bytearray(), bytearray()]

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name in TEXT_FIELDS:
            self._text = self.texts.setdefault(name, bytearray())
            if self._text:
                self._text.extend(b"\n")  # a repeated field: its words follow the previous part's, never glued
            return
        if name != FIELD:
            self.others += 1
            if self.others > MAX_OTHER_FIELDS:
                raise MalformedBody(f"more than {MAX_OTHER_FIELDS} fields besides {FIELD!r}")
            return
        if b"filename" not in options:
            raise MalformedBody(f"field {FIELD!r} must hold files; part {len(self.uploads)} is a text value")
        if len(self.uploads) >= self.settings.max_images:
            raise TooManyImages(f"more than {self.settings.max_images} images in one request (RARE_MAX_IMAGES)")
        self.uploads.append(Upload(options[b"filename"].decode("utf-8", "replace")))
        self._buffer = bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._text is not None:
            if len(self._text) + end - start > MAX_LEXICON_BYTES:
                raise MalformedBody(f"the lexicon fields hold more than {MAX_LEXICON_BYTES} bytes")
            self._text.extend(data[start:end])
        if self._buffer is None:
            return
        self._size += end - start
        if self._size <= self.settings.max_image_bytes:
            self._buffer.extend(data[start:end])
        elif self._buffer:
            self._buffer = bytearray()  # over the limit: keep counting, stop keeping

    def _end(self) -> None:
        if self._buffer is None:
            return
        upload = self.uploads[-1]
        if self._size > self.settings.max_image_bytes:
            upload.error = _too_large(self._size, self.settings)
        else:
            upload.data = bytes(self._buffer)
        self._buffer = None


async def _read_multipart(request: Request, content_type: str, settings: Settings) -> Uploads:
    """The crops of a multipart body, read as it streams in (see the module docstring)."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedBody("malformed multipart body: no boundary in the Content-Type header")
    parts = _Parts(settings)
    try:  # the parser refuses a boundary over 256 bytes as it starts: a malformed body too
        parser = MultipartParser(boundary, parts.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise MalformedBody(f"malformed multipart body: {exc}") from None
    if parts.inside_part:
        raise MalformedBody("malformed multipart body: the body ended inside a part")
    texts = {name: value.decode("utf-8", "replace") for name, value in parts.texts.items()}
    words = [w.strip() for w in texts["lexicon"].splitlines() if w.strip()] if "lexicon" in texts else None
    return Uploads(parts.uploads, words, texts.get("lexicon_name", "").strip() or None)
