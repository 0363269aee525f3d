"""Share links: make, list and revoke them (owner only), and the public read-only page `/s/<token>`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field, StrictInt

from webapp.auth.authenticator import identity
from webapp.chat.service import ChatService
from webapp.errors import NotFound
from webapp.web.api import StrictBody
from webapp.web.pages import SECURITY_HEADERS, page
from webapp.web.share_page import share_page

# A share page has no form: it sends no referrer at all (its URL is the secret).
PAGE_HEADERS = SECURITY_HEADERS | {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


class NewShare(StrictBody):
    expires_in_days: StrictInt | None = Field(None, ge=1, le=365)


def share_router(service: ChatService) -> APIRouter:
    router = APIRouter(tags=["share links"])

    @router.post("/api/conversations/{conversation_id}/share", status_code=201)
    async def share(request: Request, conversation_id: str, body: NewShare | None = None) -> dict[str, Any]:
        info = await service.share(identity(request).owner, conversation_id, (body or NewShare()).expires_in_days)
        return info.as_dict()

    @router.delete("/api/conversations/{conversation_id}/share", status_code=204)
    async def unshare(request: Request, conversation_id: str) -> Response:
        await service.unshare(identity(request).owner, conversation_id)
        return Response(status_code=204)

    @router.get("/api/shares")
    async def shares(request: Request) -> list[dict[str, Any]]:
        return [s.as_dict() for s in await service.shares(identity(request).owner)]

    @router.get("/s/{token}", include_in_schema=False)
    async def shared(token: str) -> HTMLResponse:
        try:
            snapshot = await service.shared(token)
        except NotFound as exc:
            body = f"<main><h1>Not found</h1><p>{exc.message}</p></main>"
            return HTMLResponse(page("Not found", body), status_code=404, headers=PAGE_HEADERS)
        html = share_page(snapshot.title, snapshot.messages, created_at=snapshot.created_at)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    return router
