"""The history schema: conversations and their messages (SQLAlchemy 2 declarative)."""

from __future__ import annotations

import enum
import time

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class MessageState(enum.StrEnum):
    """How a message ended. `streaming` only while an answer is being written."""

    COMPLETE = "complete"
    STOPPED = "stopped"  # the user pressed stop, or the client went away
    ERROR = "error"  # the engine failed; whatever came is kept
    TRUNCATED = "truncated"  # the length limit cut it: it can be continued
    STREAMING = "streaming"


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)
    pinned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    # Deleted from the page, hidden while the delete can be undone, then deleted for good (`db/keeping.py`).
    deleted_at: Mapped[float | None] = mapped_column(Float)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (Index("ix_conversations_owner_updated", "owner", "updated_at"),)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    reasoning: Mapped[str] = mapped_column(Text, nullable=False, default="")
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=MessageState.COMPLETE)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    answer_tokens: Mapped[int | None] = mapped_column(Integer)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    tokens_per_s: Mapped[float | None] = mapped_column(Float)
    thinking_s: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str | None] = mapped_column(String(200))
    temperature: Mapped[float | None] = mapped_column(Float)
    top_p: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    math: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)
    # The versions tree (`webapp.db.tree`): the message this one follows, None for a first one;
    # when it was last chosen among its versions, None if never (then its creation counts).
    parent_id: Mapped[int | None] = mapped_column(Integer)
    chosen_at: Mapped[float | None] = mapped_column(Float)
    thinking_budget: Mapped[int | None] = mapped_column(Integer)  # the answer's cap on its thought (None: none)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "id"),)


class OwnerSettings(Base):
    """An owner's chat settings, applied to their next message."""

    __tablename__ = "owner_settings"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    temperature: Mapped[float] = mapped_column(Float, nullable=False)
    top_p: Mapped[float] = mapped_column(Float, nullable=False)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    math: Mapped[bool] = mapped_column(Boolean, nullable=False)
    show_reasoning: Mapped[bool] = mapped_column(Boolean, nullable=False)
    persona: Mapped[str] = mapped_column(Text, nullable=False)
    thinking_budget: Mapped[int | None] = mapped_column(Integer)  # None: the thinking is not capped
    language: Mapped[str] = mapped_column(String(8), nullable=False, server_default="")  # "": not chosen
    updated_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)


class Manager(enum.StrEnum):
    """Who decides a user's password and existence."""

    CONFIG = "config"  # USERS_FILE or ADMIN_USER/ADMIN_PASSWORD, applied at every start
    UI = "ui"  # an admin, in the users tab or at /api/users


class User(Base):
    """An account; its conversations are those whose owner is `owner_id(user.id)`."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)
    managed_by: Mapped[str] = mapped_column(String(16), nullable=False, default=Manager.UI, server_default=Manager.UI)
    # A configured user the configuration no longer names: kept with their data, but cannot sign in.
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())

    # Ids are owners (`user:<id>`): SQLite must never hand a deleted user's id to a new one.
    __table_args__ = ({"sqlite_autoincrement": True},)


class LoginSession(Base):
    """A signed-in browser or client. Only a hash of its token is kept."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)


class ApiToken(Base):
    """A token for scripts (`Authorization: Bearer ...`). Only a hash of it is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    last_used_at: Mapped[float | None] = mapped_column(Float)


class Share(Base):
    """A read-only snapshot of a conversation, reachable by its token without signing in."""

    __tablename__ = "shares"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    owner: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    snapshot: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of {role, content, reasoning}
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    expires_at: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_shares_owner", "owner", "created_at"),)


class Usage(Base):
    """Tokens an owner spent on one UTC day, in the engine's counts (`webapp.db.usage`)."""

    __tablename__ = "usage"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    turns: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_usage_day", "day"),)


class Quota(Base):
    """An owner's own daily token quota, set by an admin over DAILY_TOKENS_PER_USER."""

    __tablename__ = "quotas"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    daily_tokens: Mapped[int | None] = mapped_column(BigInteger)  # None: no quota for this owner
    updated_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)


class Feedback(Base):
    """A person's rating of an answer (+1 or -1) with an optional note; deleted with the answer."""

    __tablename__ = "feedback"

    message_id: Mapped[int] = mapped_column(Integer, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    rating: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    updated_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)
