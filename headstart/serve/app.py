"""The prediction server: ``create_app(backend, limits)`` returns a FastAPI app.

- ``POST /predict``: images as multipart field ``file`` (repeatable), or JSON
  ``{"texts": [...]}`` for a text model; ``?top_k=N``. Answers the top classes per input.
- ``GET /``: a page to drop or pick an image (or type a text) and see the classes as bars.
- ``GET /health``, ``GET /info``: liveness; the model, classes, preprocessing and limits.

Every refusal is a 4xx JSON ``{"error": "..."}``; an unexpected failure is a 500 JSON error
and the server goes on. Uploads are read into memory only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from headstart.export.preprocess import ImageRejected, decode_image
from headstart.export.runtime import IMAGE_TASK
from headstart.serve.backends import Backend
from headstart.serve.batcher import Batcher
from headstart.serve.inputs import (
    ApiError,
    Upload,
    content_type,
    read_body,
    read_texts,
    read_uploads,
)
from headstart.serve.limits import Limits
from headstart.serve.page import PAGE

log = logging.getLogger("headstart.serve")


def create_app(backend: Backend, limits: Limits | None = None) -> FastAPI:
    """The app serving ``backend`` within ``limits``."""
    limits = limits or Limits()
    batcher = Batcher(backend.infer, limits.max_batch, limits.batch_wait_ms)
    app = FastAPI(title="headstart serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.batcher = batcher
    _add_error_handlers(app)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        return {
            "task": backend.task,
            "classes": list(backend.classes),
            "preprocessing": backend.preprocessing or None,
            "limits": limits.to_dict(),
            "model_runs": batcher.runs,
            **backend.info(),
        }

    @app.post("/predict")
    async def predict(request: Request, top_k: int | None = None) -> dict[str, Any]:
        k = _top_k(top_k, limits, len(backend.classes))
        try:
            names, probs = await asyncio.wait_for(
                _predict(request, backend, batcher, limits), limits.timeout_s
            )
        except asyncio.TimeoutError:
            raise ApiError(408, f"request took longer than {limits.timeout_s:g} s") from None
        return {"predictions": [_top(name, p, backend.classes, k) for name, p in zip(names, probs)]}

    return app


async def _predict(
    request: Request, backend: Backend, batcher: Batcher, limits: Limits
) -> tuple[list[str], Any]:
    kind = content_type(request)
    if backend.task == IMAGE_TASK:
        if kind != "multipart/form-data":
            raise ApiError(
                415, f"send images as multipart/form-data (field 'file'), not '{kind or 'none'}'"
            )
        body = await read_body(request, limits.max_request_bytes)
        uploads = await read_uploads(request, body, limits)
        prepared = await run_in_threadpool(_prepare_images, uploads, backend, limits)
        return [u.name for u in uploads], await batcher.submit(prepared)
    if kind != "application/json":
        raise ApiError(
            415, f"send JSON {{\"texts\": [...]}} (application/json), not '{kind or 'none'}'"
        )
    texts = read_texts(await read_body(request, limits.max_request_bytes), limits)
    return texts, await batcher.submit(texts)


def _prepare_images(uploads: list[Upload], backend: Backend, limits: Limits) -> list[Any]:
    out = []
    for u in uploads:
        try:
            out.append(backend.prepare(decode_image(u.data, limits.max_pixels, u.name)))
        except ImageRejected as err:
            raise ApiError(err.status, str(err)) from None
    return out


def _top_k(asked: int | None, limits: Limits, n_classes: int) -> int:
    if asked is None:
        return min(limits.top_k, n_classes)
    if asked < 1:
        raise ApiError(400, "top_k must be at least 1")
    return min(asked, n_classes)


def _top(name: str, probs: Any, classes: tuple[str, ...], k: int) -> dict[str, Any]:
    order = probs.argsort()[::-1][:k]
    return {"input": name, "top": [{"class": classes[i], "prob": float(probs[i])} for i in order]}


def _add_error_handlers(app: FastAPI) -> None:
    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return error(err.status, err.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        return error(err.status_code, str(err.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("prediction failed")
        return error(500, f"the server failed on this request ({type(err).__name__})")
