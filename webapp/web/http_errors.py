"""The one translation of errors into HTTP: every AppError becomes its status and JSON body;
bad request bodies become a 4xx a person can read."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from webapp.errors import AppError, RateLimited, error_body


def install_error_handlers(app: FastAPI) -> None:
    """Every `AppError` becomes its status; bad request bodies become a 4xx a person can read."""

    async def app_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        status = 422
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            if error.get("type") == "json_invalid":
                status = 400
                problems.append("The request body is not valid JSON in UTF-8.")
            else:
                problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
        body = {"error": {"kind": "invalid_input", "message": " ".join(problems), "hint": None}}
        return JSONResponse(body, status_code=status)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "The request body is not valid JSON in UTF-8."  # FastAPI's word for bad UTF-8
        body = {"error": {"kind": "http_error", "message": message, "hint": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
