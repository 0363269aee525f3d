"""Ratings of answers: one per answer (+1 or -1, with a note), and every one of them for evaluation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import aliased

from webapp.db.database import Database
from webapp.db.tables import Conversation, Feedback, Message
from webapp.db.text import storable, unstorable
from webapp.errors import NotFound

EXPORT_BATCH = 500  # rows read at a time: an export of every rating is never held whole


@dataclass(frozen=True, slots=True)
class Rating:
    message_id: int
    rating: int  # +1 or -1
    note: str
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "rating": "up" if self.rating > 0 else "down",
            "note": self.note,
            "updated_at": self.updated_at,
        }


def _no_such_answer() -> NotFound:
    # The same for an unknown id, a question's, and another owner's answer.
    return NotFound("No such answer.", code="no_message")


class FeedbackBook:
    """Ratings, always reached through their answer's owner and conversation."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def rate(self, owner: str, conversation_id: str, message_id: int, rating: int, note: str) -> Rating:
        """Rate the owner's answer (again: the new rating and note replace the old)."""
        now = time.time()
        with self.database.writing() as session:
            self._answer(session, owner, conversation_id, message_id)
            found = session.get(Feedback, message_id)
            if found is None:
                found = Feedback(message_id=message_id)
                session.add(found)
            found.rating, found.note, found.updated_at = rating, storable(note), now
            return Rating(message_id, rating, found.note, now)

    def unrate(self, owner: str, conversation_id: str, message_id: int) -> None:
        with self.database.writing() as session:
            self._answer(session, owner, conversation_id, message_id)
            session.execute(delete(Feedback).where(Feedback.message_id == message_id))

    def of_conversation(self, owner: str, conversation_id: str) -> dict[int, Rating]:
        """The ratings of the owner's conversation's answers, by answer id."""
        if unstorable(conversation_id):
            return {}
        query = (
            select(Feedback)
            .join(Message, Message.id == Feedback.message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.id == conversation_id, Conversation.owner == owner)
        )
        with self.database.reading() as session:
            return {f.message_id: Rating(f.message_id, f.rating, f.note, f.updated_at) for f in session.scalars(query)}

    def ratings_after(self, message_id: int, limit: int = EXPORT_BATCH) -> list[dict[str, Any]]:
        """Rated answers with their questions, by answer id from past `message_id` on, at most `limit`
        (an admin's export for evaluation reads them a page at a time)."""
        question = aliased(Message)
        query = (
            select(
                Conversation.owner, Message.conversation_id, Message.id, question.content, Message.content,
                Message.reasoning, Feedback.rating, Feedback.note, Feedback.updated_at, Message.model,
                Message.temperature, Message.top_p, Message.state,
            )
            .join(Message, Message.id == Feedback.message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .outerjoin(question, question.id == Message.parent_id)
            .where(Feedback.message_id > message_id)
            .order_by(Feedback.message_id)
            .limit(limit)
        )  # fmt: skip
        names = ("owner", "conversation_id", "message_id", "prompt", "answer", "reasoning", "rating", "note",
                 "time", "model", "temperature", "top_p", "state")  # fmt: skip
        with self.database.connection() as db:
            records = [dict(zip(names, row, strict=True)) for row in db.execute(query)]
        for record in records:
            record["rating"] = "up" if record["rating"] > 0 else "down"
            record["prompt"] = record["prompt"] or ""
        return records

    @staticmethod
    def _answer(session: Any, owner: str, conversation_id: str, message_id: int) -> None:
        if unstorable(conversation_id):
            raise _no_such_answer()
        role = session.scalar(
            select(Message.role)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.id == message_id, Conversation.id == conversation_id, Conversation.owner == owner)
        )
        if role != "assistant":
            raise _no_such_answer()
