"""What the store gives back: rows detached from the database session, safe to pass anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: str
    title: str
    created_at: float
    updated_at: float
    pinned: bool = False  # first in the owner's list


@dataclass(frozen=True, slots=True)
class ShareInfo:
    token: str
    conversation_id: str
    title: str
    created_at: float
    expires_at: float | None

    @property
    def url(self) -> str:
        return f"/s/{self.token}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "conversation_id": self.conversation_id,
            "title": self.title,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class SharedSnapshot:
    title: str
    messages: list[dict[str, str]]
    created_at: float


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A stored message, detached from the database session."""

    id: int
    conversation_id: str
    role: str
    content: str
    reasoning: str
    state: str
    finish_reason: str | None
    error: str | None
    prompt_tokens: int | None
    reasoning_tokens: int | None
    answer_tokens: int | None
    ttft_ms: float | None
    tokens_per_s: float | None
    thinking_s: float | None
    model: str | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    math: bool
    created_at: float
    parent_id: int | None = None  # the message it follows (None: the first of its branch)
    chosen_at: float | None = None  # when it was last chosen among its versions (None: never)
    thinking_budget: int | None = None  # the cap its thought had (None: none)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A message to store as it is (an imported one): no model is called for it."""

    role: str  # "user" or "assistant"
    content: str
    reasoning: str = ""
    created_at: float | None = None  # None: its conversation's time
    state: str = "complete"
    error: str | None = None
    model: str | None = None
    chosen_at: float | None = None  # when it was last chosen among its versions (`webapp.db.tree`)


@dataclass(frozen=True, slots=True)
class ConversationDraft:
    """A whole conversation to store in one go (an imported one)."""

    title: str  # "": the start of its first user message, as for a new conversation
    messages: tuple[MessageDraft, ...]
    created_at: float | None = None  # None: now
    updated_at: float | None = None  # None: its last message's time
    # Each message's parent, as its place in `messages` (None: a first one); None: one branch, in order.
    parents: tuple[int | None, ...] | None = None
