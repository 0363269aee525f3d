"""Feedback on answers: 👍 or 👎 with an optional note, one per answer, changeable, and every rating
as JSON Lines for evaluation (admins)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import orjson

from webapp.db.feedback import Rating
from webapp.db.store import Store
from webapp.errors import InvalidInput

MAX_NOTE_CHARS = 2_000
RATINGS = {"up": 1, "down": -1}


def rating_of(value: object) -> int:
    if value not in RATINGS:
        raise InvalidInput('A rating is "up" or "down".', code="rating_value")
    return RATINGS[str(value)]


def note_of(value: object) -> str:
    note = "" if value is None else value
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(
            f"A note is text of at most {MAX_NOTE_CHARS:,} characters.",
            code="note_too_long",
            params={"limit": MAX_NOTE_CHARS},
        )
    return note.strip()


class Ratings:
    """Each owner's ratings of their answers, through the store's feedback book."""

    def __init__(self, store: Store) -> None:
        self.book = store.feedback

    async def rate(self, owner: str, conversation_id: str, message_id: int, rating: object, note: object) -> Rating:
        """Rate one of the owner's answers (NotFound for a question's id or another owner's)."""
        value, text = rating_of(rating), note_of(note)
        return await asyncio.to_thread(self.book.rate, owner, conversation_id, message_id, value, text)

    async def unrate(self, owner: str, conversation_id: str, message_id: int) -> None:
        await asyncio.to_thread(self.book.unrate, owner, conversation_id, message_id)

    async def of_conversation(self, owner: str, conversation_id: str) -> dict[int, Rating]:
        return await asyncio.to_thread(self.book.of_conversation, owner, conversation_id)

    async def jsonl(self, name_of: Callable[[str], str | None]) -> AsyncIterator[bytes]:
        """Every rating as a line of JSON (question, answer, thinking, rating, note, time, model...), read
        a page at a time; `name_of` names an owner (a user's name, or None)."""
        after = 0
        while batch := await asyncio.to_thread(self.book.ratings_after, after):
            for record in batch:
                record["user"] = name_of(record["owner"])
                yield orjson.dumps(record) + b"\n"
            after = batch[-1]["message_id"]
