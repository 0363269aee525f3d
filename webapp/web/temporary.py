"""`/api/temporary/messages`: a turn of a temporary chat, answered as Server-Sent Events and stored nowhere."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field, StrictStr

from webapp.chat.service import ChatService
from webapp.chat.temporary import MAX_TEMPORARY_MESSAGES, answer_temporary, begin_temporary
from webapp.web.conversations import EVENTS_DOC, SSE_HEADERS, events, sampling_of
from webapp.web.deps import Owner
from webapp.web.schemas import ERRORS, NewMessage, StrictBody


class EarlierMessage(StrictBody):
    role: Literal["user", "assistant"]
    content: StrictStr


class TemporaryMessage(NewMessage):
    history: list[EarlierMessage] = Field(
        default_factory=list,
        max_length=MAX_TEMPORARY_MESSAGES,
        description="The temporary chat so far, oldest first, as the client kept it (answers without their thinking).",
    )


def temporary_router(service: ChatService) -> APIRouter:
    router = APIRouter(tags=["conversations"], responses=ERRORS)

    @router.post(
        "/api/temporary/messages",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": EVENTS_DOC}},
    )
    async def send_temporary(request: Request, owner: Owner, body: TemporaryMessage) -> StreamingResponse:
        """Send a message of a temporary chat: answered like any other, with nothing stored (the `done`
        event's message has id 0); its tokens count in the owner's usage and quota."""
        # Everything that can be refused is refused before the stream starts, with its status.
        sampling = await sampling_of(service, owner, body)
        earlier = [message.model_dump() for message in body.history]
        messages = await begin_temporary(service, owner, earlier, body.content)
        service.engine.require_ready()
        service.admit(owner, request.client.host if request.client else None)
        turn = answer_temporary(service, owner, messages, sampling)
        return StreamingResponse(events(turn), media_type="text/event-stream", headers=SSE_HEADERS)

    return router
