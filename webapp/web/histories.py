"""`/api/import` and `/api/export`: an owner's whole history in and out."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import StreamingResponse

from webapp.chat.service import ChatService
from webapp.chat.transfer import export_json, export_zip, import_history
from webapp.web.deps import Owner
from webapp.web.schemas import ERRORS, ImportedOut, SkippedOut

IMPORT_PATH = "/api/import"  # takes bodies up to IMPORT_MAX_BYTES, not MAX_BODY_BYTES
IMPORT_DOC = (
    "Import an exported history (multipart field `file`): ChatGPT's `conversations.json`, an Open WebUI chat "
    "export, or this app's JSON export (one conversation or all). Each conversation becomes a new one of yours; "
    "those that cannot be used are listed in `skipped` with why. Not JSON: 400; not an export: 422; "
    "over IMPORT_MAX_BYTES: 413."
)


def histories_router(service: ChatService) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["history"], responses=ERRORS)

    @router.post("/import", status_code=201, description=IMPORT_DOC)
    async def import_(
        request: Request, owner: Owner, file: Annotated[UploadFile, File(description="The exported .json file.")]
    ) -> ImportedOut:
        address = request.client.host if request.client else None
        imported = await import_history(service, owner, file.file, address=address)
        skipped = [SkippedOut(index=s.index, title=s.title, reason=s.reason) for s in imported.skipped]
        return ImportedOut(imported=len(imported.ids), ids=imported.ids, skipped=skipped)

    @router.get(
        "/export",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "A download: every conversation as this app's JSON (which /api/import reads), "
                "or a zip of one Markdown file per conversation.",
                "content": {"application/json": {"schema": {"type": "object"}}, "application/zip": {}},
            }
        },
    )
    async def export(owner: Owner, format: Literal["json", "zip"] = "json") -> StreamingResponse:
        """All of your conversations, oldest first."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        if format == "zip":
            body, media = export_zip(service, owner), "application/zip"
        else:
            body, media = export_json(service, owner), "application/json"
        disposition = f'attachment; filename="conversations-{stamp}.{format}"'
        return StreamingResponse(body, media_type=media, headers={"Content-Disposition": disposition})

    return router
