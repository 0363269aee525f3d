"""HTTP routes beside the UI: health probes, and the one translation of app errors to HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from webapp.engine import Engine
from webapp.errors import AppError


def error_body(error: AppError) -> dict[str, Any]:
    """The JSON shape of every error the API answers with."""
    return {"error": {"kind": error.kind, "message": error.message, "hint": error.hint}}


def install_error_handler(app: FastAPI) -> None:
    """Every `AppError` becomes its HTTP status and a message fit for a person."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return JSONResponse(error_body(exc), status_code=exc.status)

    app.add_exception_handler(AppError, handle)


def health_router(engine: Engine) -> APIRouter:
    """`/healthz` (the app is alive) and `/readyz` (a chat can be served now)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        status = engine.status()
        body: dict[str, Any] = {"ready": status.ready, "engine": status.state.value}
        if status.error is not None:
            body.update(error_body(status.error))
        return JSONResponse(body, status_code=200 if status.ready else 503)

    return router
