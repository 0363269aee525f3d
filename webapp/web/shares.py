"""Share links: make, list and revoke them (owner only), and the public read-only page `/s/<token>`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from webapp.chat.service import ChatService
from webapp.db.records import ShareInfo
from webapp.errors import NotFound
from webapp.web.deps import Owner
from webapp.web.pages import SECURITY_HEADERS, page
from webapp.web.schemas import ERRORS, NewShare, ShareOut
from webapp.web.share_page import share_page

# A share page has no form: it sends no referrer at all (its URL is the secret).
PAGE_HEADERS = SECURITY_HEADERS | {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


def _out(info: ShareInfo) -> ShareOut:
    return ShareOut(**info.as_dict())


def share_router(service: ChatService) -> APIRouter:
    router = APIRouter(tags=["share links"], responses=ERRORS)

    @router.post("/api/conversations/{conversation_id}/share", status_code=201)
    async def share(owner: Owner, conversation_id: str, body: NewShare | None = None) -> ShareOut:
        """A read-only snapshot of the conversation's finished messages at `/s/<token>` (sharing again refreshes it)."""
        return _out(await service.share(owner, conversation_id, (body or NewShare()).expires_in_days))

    @router.delete("/api/conversations/{conversation_id}/share", status_code=204)
    async def unshare(owner: Owner, conversation_id: str) -> Response:
        await service.unshare(owner, conversation_id)
        return Response(status_code=204)

    @router.get("/api/shares")
    async def shares(owner: Owner) -> list[ShareOut]:
        """One's links that still work, newest first."""
        return [_out(s) for s in await service.shares(owner)]

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
