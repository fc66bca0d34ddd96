"""Reading a prediction request: the body within its byte limit, kept in memory, then the
images of a multipart form or the texts of a JSON object. Every refusal is an ``ApiError``
with the status and the one-line reason the client gets."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from headstart.serve.limits import MB, Limits

FIELD = "file"


class ApiError(Exception):
    """A request the server refuses: answered ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    name: str
    data: bytes


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, _too_big(int(declared), limit))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, _too_big(len(body), limit, "at least "))
    return bytes(body)


def _too_big(n: int, limit: int, prefix: str = "") -> str:
    return (
        f"request body is {prefix}{n / MB:.1f} MB, over the limit of {limit / MB:.1f} MB; "
        "send fewer or smaller images"
    )


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_uploads(request: Request, body: bytes, limits: Limits) -> list[Upload]:
    """The ``file`` parts of a multipart form, parsed from ``body`` in memory."""

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(Headers(scope=request.scope), stream(), max_files=limits.max_files)
    # Files spill to a temporary file on disk past spool_max_size: above the body limit,
    # an upload never leaves memory.
    parser.spool_max_size = limits.max_request_bytes + 1
    try:
        form = await parser.parse()
    except MultiPartException as err:
        status = 413 if "Too many files" in str(err) else 400
        raise ApiError(status, f"multipart form: {err}") from None
    uploads: list[Upload] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != FIELD:
                raise ApiError(400, f"unexpected file field '{key}'; send images as '{FIELD}'")
            uploads.append(Upload(value.filename or f"image {len(uploads) + 1}", value.file.read()))
    if not uploads:
        raise ApiError(400, f"no image in the form: send one or more files as field '{FIELD}'")
    if len(uploads) > limits.max_files:
        raise ApiError(413, f"{len(uploads)} images, over the limit of {limits.max_files}")
    return uploads


def read_texts(body: bytes, limits: Limits) -> list[str]:
    """``{"texts": ["...", ...]}`` -> the texts, each non-empty and within the limits."""
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, 'body is not JSON; send {"texts": ["...", ...]}') from None
    texts = payload.get("texts") if isinstance(payload, dict) else None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, 'send {"texts": ["...", ...]}: a non-empty list of strings')
    if len(texts) > limits.max_texts:
        raise ApiError(413, f"{len(texts)} texts, over the limit of {limits.max_texts}")
    for i, t in enumerate(texts, 1):
        if not t.strip():
            raise ApiError(400, f"text {i} is empty; give some words to classify")
        if len(t) > limits.max_text_chars:
            raise ApiError(
                413,
                f"text {i} has {len(t):,} characters, over the limit of {limits.max_text_chars:,}",
            )
    return texts
