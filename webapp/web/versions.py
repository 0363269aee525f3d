"""Answer versions over REST: regenerate, continue, edit a message (a new branch), choose a version.

The turns stream as `POST /api/conversations/{id}/messages` does; what can be refused is refused
before the stream starts, with its status: another owner's conversation or message is 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from webapp.chat.service import ChatService
from webapp.web.conversations import EVENTS_DOC, SSE_HEADERS, detail, events, sampling_of
from webapp.web.deps import Owner
from webapp.web.schemas import ERRORS, ConversationDetail, NewMessage, Regenerate, SamplingOptions

STREAMED = {
    "response_class": StreamingResponse,
    "responses": {200: {"content": {"text/event-stream": {}}, "description": EVENTS_DOC}},
}


def versions_router(service: ChatService) -> APIRouter:
    router = APIRouter(prefix="/api/conversations", tags=["versions"], responses=ERRORS)

    def admitted(request: Request, owner: str) -> None:
        service.engine.require_ready()
        service.admit(owner, request.client.host if request.client else None)

    @router.post("/{conversation_id}/regenerate", **STREAMED)  # type: ignore[arg-type]
    async def regenerate(
        request: Request, owner: Owner, conversation_id: str, body: Regenerate | None = None
    ) -> StreamingResponse:
        """A new version of an answer (the last one shown, or `message_id`); the others are kept."""
        body = body or Regenerate()
        sampling = await sampling_of(service, owner, body)
        admitted(request, owner)
        history = await service.begin_again(owner, conversation_id, body.message_id)
        turn = service.answer(owner, conversation_id, history, sampling)
        return StreamingResponse(events(turn), media_type="text/event-stream", headers=SSE_HEADERS)

    @router.post("/{conversation_id}/continue", **STREAMED)  # type: ignore[arg-type]
    async def continue_(
        request: Request, owner: Owner, conversation_id: str, body: SamplingOptions | None = None
    ) -> StreamingResponse:
        """Go on with the last answer shown, where the length limit cut it (422 if it was not cut)."""
        sampling = await sampling_of(service, owner, body or SamplingOptions())
        admitted(request, owner)
        history, cut = await service.begin_continuing(owner, conversation_id)
        turn = service.answer(owner, conversation_id, history, sampling, continuing=cut)
        return StreamingResponse(events(turn), media_type="text/event-stream", headers=SSE_HEADERS)

    @router.post("/{conversation_id}/messages/{message_id}/edit", **STREAMED)  # type: ignore[arg-type]
    async def edit(
        request: Request, owner: Owner, conversation_id: str, message_id: int, body: NewMessage
    ) -> StreamingResponse:
        """A new version of one of your messages, answered: a branch of its own (the old one is kept)."""
        service.validate(body.content)
        sampling = await sampling_of(service, owner, body)
        admitted(request, owner)
        history = await service.begin(owner, conversation_id, body.content, replacing=message_id)
        turn = service.answer(owner, conversation_id, history, sampling)
        return StreamingResponse(events(turn), media_type="text/event-stream", headers=SSE_HEADERS)

    @router.post("/{conversation_id}/messages/{message_id}/choose")
    async def choose(owner: Owner, conversation_id: str, message_id: int) -> ConversationDetail:
        """Show this version; what follows it is the branch last shown below it. The conversation then."""
        await service.choose(owner, conversation_id, message_id)
        return await detail(service, owner, conversation_id, with_tree=False)

    return router
