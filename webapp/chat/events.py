"""What a chat turn yields besides the model's pieces: notices, and its end with the stored answer."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.db.records import MessageRecord
from webapp.errors import AppError
from webapp.llm.reasoning import Piece


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know about this turn (earlier messages left out, say)."""

    text: str


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The stored assistant message, in whatever state the turn ended; `error` if it failed."""

    message: MessageRecord
    error: AppError | None = None


ChatEvent = Piece | Notice | TurnEnded
