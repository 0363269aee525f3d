"""Feedback on answers: `/api/conversations/{id}/.../feedback` (one's own) and `/api/feedback.jsonl` (admins)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StrictStr

from webapp.auth.accounts import Accounts
from webapp.chat.feedback import MAX_NOTE_CHARS, Ratings
from webapp.chat.service import ChatService
from webapp.web.deps import Admin, Owner
from webapp.web.schemas import ERRORS, StrictBody
from webapp.web.usage import owner_names

EXPORT_DOC = (
    "One JSON object a line, one per rated answer: `prompt` (the question it answers), `answer`, `reasoning`, "
    "`rating` (`up` or `down`), `note`, `time` (of the rating, Unix time), `model`, `temperature`, `top_p`, "
    "`state`, `conversation_id`, `message_id`, `owner` and `user` (the user's name; null without an account)."
)


class NewRating(StrictBody):
    rating: Literal["up", "down"]
    note: StrictStr = Field("", max_length=MAX_NOTE_CHARS, description="Optional: why.")


class RatingOut(BaseModel):
    message_id: int
    rating: Literal["up", "down"]
    note: str
    updated_at: float


def feedback_router(service: ChatService, accounts: Accounts) -> APIRouter:
    router = APIRouter(tags=["feedback"], responses=ERRORS)
    ratings = Ratings(service.store)
    answer = "/api/conversations/{conversation_id}/messages/{message_id}/feedback"

    @router.get("/api/conversations/{conversation_id}/feedback")
    async def of_conversation(owner: Owner, conversation_id: str) -> list[RatingOut]:
        """The ratings of the conversation's answers."""
        await service.conversation(owner, conversation_id)  # another owner's: 404
        found = await ratings.of_conversation(owner, conversation_id)
        return [RatingOut(**rating.as_dict()) for rating in found.values()]

    @router.put(answer)
    async def rate(owner: Owner, conversation_id: str, message_id: int, body: NewRating) -> RatingOut:
        """Rate an answer 👍 (`up`) or 👎 (`down`), with an optional note; again, to change it."""
        rating = await ratings.rate(owner, conversation_id, message_id, body.rating, body.note)
        return RatingOut(**rating.as_dict())

    @router.delete(answer, status_code=204)
    async def unrate(owner: Owner, conversation_id: str, message_id: int) -> Response:
        await ratings.unrate(owner, conversation_id, message_id)
        return Response(status_code=204)

    @router.get(
        "/api/feedback.jsonl",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/jsonl": {}}, "description": EXPORT_DOC}},
    )
    async def export(_: Admin) -> StreamingResponse:
        """Every rating of every user, for evaluation (admins)."""
        names = await owner_names(accounts)
        headers = {"Content-Disposition": 'attachment; filename="feedback.jsonl"'}
        return StreamingResponse(ratings.jsonl(names.get), media_type="application/jsonl", headers=headers)

    return router
