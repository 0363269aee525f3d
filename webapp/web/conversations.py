"""`/api/conversations`: the owner's conversations, their messages, and a turn as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from webapp.chat.events import ChatEvent, Notice, TurnEnded
from webapp.chat.export import to_json, to_markdown
from webapp.chat.service import ChatService
from webapp.db.records import ConversationInfo
from webapp.errors import AppError
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import Sampling
from webapp.web.deps import Owner
from webapp.web.schemas import (
    ERRORS,
    BranchMessage,
    ConversationChange,
    ConversationDetail,
    ConversationOut,
    Created,
    NewConversation,
    NewMessage,
    SamplingOptions,
    VersionOut,
)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
EVENTS_DOC = (
    "Server-Sent Events: each `data:` line is a JSON object whose `type` is `reasoning` or `content` (with "
    "`text`), `notice` (earlier messages left out), `done` (with the stored `message`) or `error` (with a "
    "`message` for a person, and the partial answer as `saved`)."
)


def _out(info: ConversationInfo) -> ConversationOut:
    return ConversationOut(
        id=info.id, title=info.title, created_at=info.created_at, updated_at=info.updated_at, pinned=info.pinned
    )


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"  # UTF-8 as it is, like ensure_ascii=False


async def events(turn: AsyncIterator[ChatEvent]) -> AsyncIterator[bytes]:
    """A turn as Server-Sent Events, one per piece: the client already gathers a stream's tokens into
    a piece per rest, so each write (a trip through every ASGI layer) carries several tokens."""
    try:
        async for event in turn:
            if isinstance(event, Piece):
                yield _sse({"type": event.kind, "text": event.text})
            elif isinstance(event, Notice):
                yield _sse({"type": "notice", "text": event.text})
            elif isinstance(event, TurnEnded):
                if event.error is not None:
                    saved = {"saved": event.message.as_dict()}
                    yield _sse({"type": "error", "kind": event.error.kind, "message": str(event.error)} | saved)
                else:
                    yield _sse({"type": "done", "message": event.message.as_dict()})
    except AppError as exc:  # refused after the stream began: still said in the stream
        yield _sse({"type": "error", "kind": exc.kind, "message": str(exc)})


async def detail(service: ChatService, owner: str, conversation_id: str, *, with_tree: bool) -> ConversationDetail:
    """A conversation as `GET /api/conversations/{id}` gives it."""
    info = await service.conversation(owner, conversation_id)
    tree = await service.tree(owner, conversation_id)
    branch = tree.branch()
    messages = [
        BranchMessage(**m.as_dict(), version=VersionOut(index=v.index, count=v.count, ids=list(v.ids)))
        for m, v in zip(branch, tree.versions(branch), strict=True)
    ]
    return ConversationDetail(**_out(info).model_dump(), messages=messages, tree=tree.messages if with_tree else None)


async def sampling_of(service: ChatService, owner: str, body: SamplingOptions) -> Sampling:
    """How the answer is sampled: the body's fields, the rest the owner's saved settings if it asks."""
    return body.sampling((await service.preferences(owner)).sampling if body.saved_settings else None)


def conversations_router(service: ChatService) -> APIRouter:
    router = APIRouter(prefix="/api/conversations", tags=["conversations"], responses=ERRORS)

    @router.post("", status_code=201)
    async def create(request: Request, owner: Owner, body: NewConversation | None = None) -> Created:
        address = request.client.host if request.client else None
        info = await service.new_conversation(owner, (body or NewConversation()).title, address=address)
        return Created(id=info.id)

    @router.get("")
    async def list_(owner: Owner, search: Annotated[str, Query(max_length=200)] = "") -> list[ConversationOut]:
        """Pinned ones first, then newest first, at most 200; `search` keeps those whose title or message
        text contains it."""
        return [_out(c) for c in await service.conversations(owner, search)]

    @router.get("/{conversation_id}")
    async def read(owner: Owner, conversation_id: str, tree: bool = False) -> ConversationDetail:
        """The branch shown, each message with its versions; `tree=true` adds every version of every message."""
        return await detail(service, owner, conversation_id, with_tree=tree)

    @router.patch("/{conversation_id}")
    async def change(owner: Owner, conversation_id: str, body: ConversationChange) -> ConversationOut:
        """Rename (`title`), pin to the top of the list or unpin (`pinned`), or both."""
        return _out(await service.change(owner, conversation_id, title=body.title, pinned=body.pinned))

    @router.delete("/{conversation_id}", status_code=204)
    async def delete(owner: Owner, conversation_id: str) -> Response:
        await service.delete(owner, conversation_id)
        return Response(status_code=204)

    @router.get(
        "/{conversation_id}/export",
        response_class=Response,
        responses={
            200: {
                "description": "A download: the conversation as Markdown, or as JSON (its fields and messages).",
                "content": {
                    "text/markdown": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            }
        },
    )
    async def export(
        owner: Owner, conversation_id: str, format: Literal["md", "json"] = "md", tree: bool = False
    ) -> Response:
        """The branch shown; JSON with `tree=true` also has every version of every message (`tree`)."""
        info = await service.conversation(owner, conversation_id)
        versions = await service.tree(owner, conversation_id)
        messages = versions.branch()
        if format == "json":
            body, media = to_json(info, messages, versions.messages if tree else None), "application/json"
        else:
            body, media = to_markdown(info, messages), "text/markdown; charset=utf-8"
        filename = f"conversation-{info.id}.{format}"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @router.post(
        "/{conversation_id}/messages",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": EVENTS_DOC}},
    )
    async def send(request: Request, owner: Owner, conversation_id: str, body: NewMessage) -> StreamingResponse:
        """Send a message; the answer streams back as it is written."""
        # Everything that can be refused is refused before the stream starts, with its status.
        service.validate(body.content)
        body.sampling()  # the body's own settings: refused here, before anything is stored
        service.engine.require_ready()
        service.admit(owner, request.client.host if request.client else None)
        # Stored (or refused), the owner's saved settings read on the same trip to the database.
        begun = await service.start(owner, conversation_id, body.content, settings=body.saved_settings)
        sampling = body.sampling(begun.preferences.sampling if begun.preferences else None)
        turn = service.answer(owner, conversation_id, begun.history, sampling)
        return StreamingResponse(events(turn), media_type="text/event-stream", headers=SSE_HEADERS)

    return router
