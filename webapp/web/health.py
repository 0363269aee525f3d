"""Probes and operations: `/healthz` (alive), `/readyz` (a chat can be served now), `/metrics`,
and for admins the status report and the engine's log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from webapp.chat.metrics import ChatMetrics
from webapp.engine import logfile
from webapp.engine.supervisor import Engine
from webapp.errors import NotFound, error_body
from webapp.ops.report import StatusReport
from webapp.ops.status import StatusMonitor
from webapp.web.deps import Admin
from webapp.web.schemas import ERRORS, Health, LogTail, Readiness


def health_router(engine: Engine, monitor: StatusMonitor, metrics: ChatMetrics) -> APIRouter:
    router = APIRouter(tags=["health"], responses=ERRORS)

    @router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def app_metrics() -> Response:
        """The app's own counters, in Prometheus' text format (the engine's are at its own /metrics)."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/api/status")
    async def status(_: Admin) -> StatusReport:
        """The status report the status tab shows: engine state, phases, live figures, GPUs, database."""
        return await monitor.report()

    @router.get("/api/engine/log", response_class=FileResponse, responses={200: {"content": {"text/plain": {}}}})
    async def engine_log_file(_: Admin) -> FileResponse:
        """The whole engine log, as a download (admins only: it names paths and settings)."""
        path = engine.settings.vllm_log_file
        if not path.is_file():
            raise NotFound(f"There is no engine log at {path} yet.")
        return FileResponse(path, media_type="text/plain; charset=utf-8", filename=path.name)

    @router.get("/api/engine/log/tail")
    async def engine_log_tail(
        _: Admin,
        level: Literal["", "DEBUG", "INFO", "WARNING", "ERROR"] = "",
        search: Annotated[str, Query(max_length=200)] = "",
        lines: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> LogTail:
        """The end of the engine log, cleaned of colour codes, filtered by level and text."""
        tail = await monitor.log_lines()
        return LogTail(lines=logfile.view(tail, level=level, search=search, limit=lines))

    @router.get("/healthz")
    async def healthz() -> Health:
        return Health(status="ok")

    @router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz(request: Request) -> JSONResponse:
        """200 once a chat can be answered; 503 while loading or when the engine failed."""
        status = engine.status()
        body: dict[str, Any] = {"ready": status.ready, "engine": status.state.value}
        # Why it is not ready may name paths and settings: with accounts on, a visitor who has not
        # signed in (a probe, anyone) gets the state alone; the signed-in read the reason, as the chat tells it.
        told = not engine.settings.accounts or getattr(request.state, "identity", None) is not None
        if status.error is not None and told:
            body.update(error_body(status.error))
        return JSONResponse(body, status_code=200 if status.ready else 503)

    return router
