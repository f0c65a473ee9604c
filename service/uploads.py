"""Turn a /recognize request (multipart files or JSON base64) into a list of uploads, enforcing the limits.

Request-level problems raise (4xx for the whole request); a problem with one crop (too large, invalid base64)
becomes that crop's error and the others are still recognized.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from service.errors import MalformedBody, NoImages, TooManyImages, UnsupportedMediaType
from service.schemas import ItemError, RecognizeJSON
from service.settings import Settings

FIELD = "images"


@dataclass
class Upload:
    filename: str | None
    data: bytes | None = None
    error: ItemError | None = None


async def read_uploads(request: Request, settings: Settings) -> list[Upload]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        uploads = await _read_multipart(request, settings)
    elif content_type == "application/json":
        uploads = await _read_json(request, settings)
    else:
        raise UnsupportedMediaType(
            f"content type {content_type or '(none)'!r} is not supported: send "
            f"multipart/form-data with files in field 'images', or application/json"
        )
    if not uploads:
        raise NoImages(f"no images: send one or more files in the multipart field {FIELD!r}")
    return uploads


def _check_count(count: int, settings: Settings) -> None:
    if count > settings.max_images:
        raise TooManyImages(f"{count} images in one request; the limit is {settings.max_images} (RARE_MAX_IMAGES)")


async def _read_multipart(request: Request, settings: Settings) -> list[Upload]:
    try:
        form = await request.form(max_files=settings.max_images + 1, max_fields=16)
    except (MultiPartException, HTTPException) as exc:  # Starlette wraps parser errors in a 400 HTTPException
        message = getattr(exc, "message", None) or str(getattr(exc, "detail", exc))
        if "Too many files" in message:
            raise TooManyImages(f"more than {settings.max_images} images in one request (RARE_MAX_IMAGES)") from None
        raise MalformedBody(f"malformed multipart body: {message}") from None
    try:
        files = form.getlist(FIELD)
        _check_count(len(files), settings)
        uploads = []
        for item in files:
            if not isinstance(item, UploadFile):
                raise MalformedBody(f"field {FIELD!r} must hold files; part {len(uploads)} is a text value")
            uploads.append(await _read_file(item, settings))
        return uploads
    finally:
        await form.close()


async def _read_file(item: UploadFile, settings: Settings) -> Upload:
    if item.size is not None and item.size > settings.max_image_bytes:
        return Upload(item.filename, error=_too_large(item.size, settings))
    data = await item.read(settings.max_image_bytes + 1)
    if len(data) > settings.max_image_bytes:
        return Upload(item.filename, error=_too_large(len(data), settings))
    return Upload(item.filename, data)


def _too_large(size: int, settings: Settings) -> ItemError:
    return ItemError(
        code="image_too_large",
        message=f"{size} bytes; the limit is {settings.max_image_bytes} per image (RARE_MAX_IMAGE_BYTES)",
    )


async def _read_json(request: Request, settings: Settings) -> list[Upload]:
    try:
        body = RecognizeJSON.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "too_short" and first["loc"] == ("images",):
            raise NoImages("no images: 'images' is an empty list") from None
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise MalformedBody(f"invalid JSON body at {where}: {first['msg']}") from None
    _check_count(len(body.images), settings)
    names = body.filenames or []
    return [_decode_base64(text, names[i] if i < len(names) else None, settings) for i, text in enumerate(body.images)]


def _decode_base64(text: str, filename: str | None, settings: Settings) -> Upload:
    if len(text) * 3 // 4 > settings.max_image_bytes + 3:
        return Upload(filename, error=_too_large(len(text) * 3 // 4, settings))
    try:
        data = base64.b64decode(text.split(",", 1)[1] if text.startswith("data:") else text, validate=True)
    except (binascii.Error, ValueError):
        return Upload(filename, error=ItemError(code="invalid_base64", message="not valid base64"))
    return Upload(filename, data)
