"""The REST API beside the UI (same chat service), health probes, and the one
translation of app errors to HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from webapp.auth.authenticator import admin, identity
from webapp.chat.export import to_json, to_markdown
from webapp.chat.metrics import ChatMetrics
from webapp.chat.service import ChatService, Notice, Sampling, TurnEnded
from webapp.db.store import ConversationInfo
from webapp.engine import logfile as engine_log
from webapp.engine.supervisor import Engine
from webapp.errors import AppError, NotFound, RateLimited
from webapp.llm.reasoning import Piece
from webapp.ops.status import StatusMonitor

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def error_body(error: AppError) -> dict[str, Any]:
    """The JSON shape of every error the API answers with."""
    return {"error": {"kind": error.kind, "message": error.message, "hint": error.hint}}


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


def health_router(engine: Engine, monitor: StatusMonitor, metrics: ChatMetrics) -> APIRouter:
    """`/healthz` (the app is alive), `/readyz` (a chat can be served now), `/api/status`, `/metrics`."""
    router = APIRouter(tags=["health"])

    @router.get("/metrics")
    async def app_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/api/status")
    async def status(request: Request) -> dict[str, Any]:
        admin(request)
        return await monitor.report()

    @router.get("/api/engine/log")
    async def engine_log_file(request: Request) -> FileResponse:
        """The whole engine log, as a download (admins only: it names paths and settings)."""
        admin(request)
        path = engine.settings.vllm_log_file
        if not path.is_file():
            raise NotFound(f"There is no engine log at {path} yet.")
        return FileResponse(path, media_type="text/plain; charset=utf-8", filename=path.name)

    @router.get("/api/engine/log/tail")
    async def engine_log_tail(
        request: Request,
        level: Literal["", "DEBUG", "INFO", "WARNING", "ERROR"] = "",
        search: Annotated[str, Query(max_length=200)] = "",
        lines: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> dict[str, Any]:
        """The end of the engine log, cleaned of colour codes, filtered by level and text."""
        admin(request)
        tail = await monitor.log_lines()
        return {"lines": engine_log.view(tail, level=level, search=search, limit=lines)}

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        status = engine.status()
        body: dict[str, Any] = {"ready": status.ready, "engine": status.state.value}
        # Why it is not ready may name paths and settings: with accounts on, a visitor who has not
        # signed in (a probe, anyone) gets the state alone; the signed-in read the reason, as the chat tells it.
        told = not engine.settings.accounts or getattr(request.state, "identity", None) is not None
        if status.error is not None and told:
            body.update(error_body(status.error))
        return JSONResponse(body, status_code=200 if status.ready else 503)

    return router


class StrictBody(BaseModel):
    """A request body that refuses unknown fields (a typo is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


class NewConversation(StrictBody):
    title: StrictStr = Field("", max_length=200)


class Rename(StrictBody):
    title: StrictStr = Field(min_length=1, max_length=200)


class NewMessage(StrictBody):
    content: StrictStr
    temperature: StrictFloat | StrictInt | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | StrictInt | None = Field(None, gt=0, le=1)
    max_tokens: StrictInt | None = Field(None, ge=1, le=1_000_000)
    math: StrictBool = False

    def sampling(self) -> Sampling:
        defaults = Sampling()
        return Sampling(
            temperature=float(self.temperature if self.temperature is not None else defaults.temperature),
            top_p=float(self.top_p if self.top_p is not None else defaults.top_p),
            max_tokens=self.max_tokens,
            math=self.math,
        )


def _conversation(info: ConversationInfo) -> dict[str, Any]:
    return {"id": info.id, "title": info.title, "created_at": info.created_at, "updated_at": info.updated_at}


def _owner(request: Request) -> str:
    return identity(request).owner


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"  # UTF-8 as it is, like ensure_ascii=False


def conversations_router(service: ChatService) -> APIRouter:
    """`/api/conversations`: the owner's conversations and their messages."""
    router = APIRouter(prefix="/api/conversations", tags=["conversations"])

    @router.post("", status_code=201)
    async def create(request: Request, body: NewConversation | None = None) -> dict[str, str]:
        info = await service.new_conversation(_owner(request), (body or NewConversation()).title)
        return {"id": info.id}

    @router.get("")
    async def list_(request: Request, search: Annotated[str, Query(max_length=200)] = "") -> list[dict[str, Any]]:
        return [_conversation(c) for c in await service.conversations(_owner(request), search)]

    @router.get("/{conversation_id}")
    async def read(request: Request, conversation_id: str) -> dict[str, Any]:
        owner = _owner(request)
        info = await service.conversation(owner, conversation_id)
        messages = await service.messages(owner, conversation_id)
        return _conversation(info) | {"messages": [m.as_dict() for m in messages]}

    @router.patch("/{conversation_id}")
    async def rename(request: Request, conversation_id: str, body: Rename) -> dict[str, Any]:
        return _conversation(await service.rename(_owner(request), conversation_id, body.title))

    @router.delete("/{conversation_id}", status_code=204)
    async def delete(request: Request, conversation_id: str) -> Response:
        await service.delete(_owner(request), conversation_id)
        return Response(status_code=204)

    @router.get("/{conversation_id}/export")
    async def export(request: Request, conversation_id: str, format: Literal["md", "json"] = "md") -> Response:
        owner = _owner(request)
        info = await service.conversation(owner, conversation_id)
        messages = await service.messages(owner, conversation_id)
        if format == "json":
            body, media = to_json(info, messages), "application/json"
        else:
            body, media = to_markdown(info, messages), "text/markdown; charset=utf-8"
        filename = f"conversation-{info.id}.{format}"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @router.post("/{conversation_id}/messages")
    async def send(request: Request, conversation_id: str, body: NewMessage) -> StreamingResponse:
        owner = _owner(request)
        # Everything that can be refused is refused before the stream starts, with its status.
        service.validate(body.content)
        sampling = body.sampling()
        service.engine.require_ready()
        service.admit(owner, request.client.host if request.client else None)
        history = await service.begin(owner, conversation_id, body.content)  # stored, or 404

        async def events() -> AsyncIterator[bytes]:
            # One event per piece: the client already gathers a stream's tokens into a piece per
            # rest (`client.stream_pace`), so each write (a trip through every ASGI layer) carries
            # several tokens.
            try:
                async for event in service.answer(owner, conversation_id, history, sampling):
                    if isinstance(event, Piece):
                        yield _sse({"type": event.kind, "text": event.text})
                    elif isinstance(event, Notice):
                        yield _sse({"type": "notice", "text": event.text})
                    elif isinstance(event, TurnEnded):
                        if event.error is not None:
                            yield _sse(
                                {"type": "error", "kind": event.error.kind, "message": str(event.error)}
                                | {"saved": event.message.as_dict()}
                            )
                        else:
                            yield _sse({"type": "done", "message": event.message.as_dict()})
            except AppError as exc:  # refused after the stream began: still said in the stream
                yield _sse({"type": "error", "kind": exc.kind, "message": str(exc)})

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    return router
