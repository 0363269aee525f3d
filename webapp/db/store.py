"""The history store: every read and write of conversations goes through `Store`.

Every query names the owner, so one browser (or user) never reaches another's
conversations: an id that is not the owner's is simply not found.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from webapp.db import search as history_search
from webapp.db.tables import Conversation, Message, MessageState, OwnerSettings, Share
from webapp.errors import Conflict, InvalidInput, NotFound

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The key of the PostgreSQL advisory lock that replicas starting at once take in turn
# ("r1chat-m" as a 64-bit number); any fixed number would do, as long as every replica uses it.
STARTUP_LOCK = 0x7231636861742D6D
# The advisory locks (one per owner) under which an owner's conversations are counted and created:
# the two-key form, a key space apart from STARTUP_LOCK's.
CREATION_LOCK_SPACE = 0x72316363  # "r1cc"
OWNER_LOCK = text("SELECT pg_advisory_xact_lock(:space, :key)")
TITLE_CHARS = 200
BUSY_TIMEOUT_MS = 5_000  # how long a SQLite write waits for another process's
STARTUP_WAIT_MS = 300_000  # how long a starting replica waits for another's migration
# SQLite connections kept open: more than the threads that may use the store at once (the
# event loop's, asyncio's to_thread pool, Gradio's workers). Past the pool, a connection is
# opened for one use and closed again, its setup (the PRAGMAs) paid every time.
POOL_SIZE = 32
SETTING_FIELDS = ("temperature", "top_p", "max_tokens", "math", "show_reasoning", "persona")
AUTO_TITLE_CHARS = 60  # a conversation's title until it is renamed: the start of its first message
# What neither database can keep in text: NUL (PostgreSQL refuses it) and lone surrogates (not
# UTF-8: both refuse them; JSON's "\ud83d\ude00" escapes can bring them in, a pair split in two).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A title is one line of text: no C0 or C1 control characters (NUL among them).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_MESSAGE_TEXTS = ("content", "reasoning", "error")


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: str
    title: str
    created_at: float
    updated_at: float


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

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


# An answer as its turn ended: owner, conversation id, its checkpointed message's id (None if
# it has none yet), and its columns.
FinalAnswer = tuple[str, str, int | None, dict[str, Any]]


def _lock_key(owner: str) -> int:
    """The owner as a signed 32-bit key of an advisory lock."""
    return int.from_bytes(hashlib.sha256(owner.encode()).digest()[:4], "big", signed=True)


def storable(text: str) -> str:
    """`text` as both databases keep it: NUL characters left out, surrogates paired (or U+FFFD when alone)."""
    if _UNSTORABLE.search(text) is None:
        return text
    return text.replace("\x00", "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def title_text(text: str, limit: int = TITLE_CHARS) -> str:
    """A title as stored: one line, control characters left out, each run of whitespace one space."""
    spaced = _CONTROL.sub(lambda control: " " if control[0].isspace() else "", storable(text))
    return " ".join(spaced.split())[:limit].rstrip()


def _storable_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A message's columns with its texts storable (the model's answer may hold a NUL, as a user's message may)."""
    texts = {name: storable(fields[name]) for name in _MESSAGE_TEXTS if isinstance(fields.get(name), str)}
    return fields | texts if texts else fields


def _info(conversation: Conversation) -> ConversationInfo:
    return ConversationInfo(conversation.id, conversation.title, conversation.created_at, conversation.updated_at)


# A turn reads and writes messages several times, through these: SQLAlchemy Core statements
# built once (building one costs more than running it on SQLite) and run on a plain
# connection, without the ORM's identity map and unit of work.
MESSAGE_COLUMNS = [getattr(Message, name) for name in MessageRecord.__slots__]
OWNED = select(Conversation.id, Conversation.title, Conversation.created_at, Conversation.updated_at).where(
    Conversation.id == bindparam("conversation_id"), Conversation.owner == bindparam("owner")
)
MESSAGES_OF = (
    select(*MESSAGE_COLUMNS).where(Message.conversation_id == bindparam("conversation_id")).order_by(Message.id)
)
ADD_MESSAGE = insert(Message).returning(*MESSAGE_COLUMNS)  # the columns come from each call's values
UPDATE_MESSAGE = update(Message).where(Message.id == bindparam("message_id")).returning(*MESSAGE_COLUMNS)
# A new message's conversation, if the owner's: touched, and titled by its first user message.
# One statement where a SELECT then an UPDATE would be two: it runs twice per turn.
TOUCH_OWNED = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation"), Conversation.owner == bindparam("owned_by"))
    .values(
        updated_at=bindparam("now"),
        title=case((Conversation.title == "", bindparam("first_title")), else_=Conversation.title),
    )
    .returning(Conversation.id)
)


def _owned_info(db: Connection, owner: str, conversation_id: str) -> ConversationInfo:
    if _UNSTORABLE.search(conversation_id):  # no id holds one, and PostgreSQL would refuse the query
        raise _no_such_conversation()
    row = db.execute(OWNED, {"conversation_id": conversation_id, "owner": owner}).first()
    if row is None:
        raise _no_such_conversation()
    return ConversationInfo(*row)


def _no_such_conversation() -> NotFound:
    # The same answer for an unknown id and another owner's: neither says which it is.
    return NotFound("No such conversation.", hint="It may have been deleted.")


def _add_message(db: Connection, owner: str, conversation_id: str, fields: dict[str, Any]) -> MessageRecord:
    if _UNSTORABLE.search(conversation_id):
        raise _no_such_conversation()
    now = time.time()
    fields = _storable_fields(fields)
    title = title_text(str(fields.get("content", "")), AUTO_TITLE_CHARS) if fields.get("role") == "user" else ""
    touch = {"conversation": conversation_id, "owned_by": owner, "now": now, "first_title": title}
    if db.execute(TOUCH_OWNED, touch).first() is None:
        raise _no_such_conversation()
    row = db.execute(ADD_MESSAGE, fields | {"conversation_id": conversation_id, "created_at": now}).one()
    return MessageRecord(*row)


def _update_message(db: Connection, message_id: int, fields: dict[str, Any]) -> MessageRecord:
    row = db.execute(UPDATE_MESSAGE, _storable_fields(fields) | {"message_id": message_id}).first()
    if row is None:
        raise NotFound("No such message.")
    return MessageRecord(*row)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # concurrent writers wait instead of failing
    _enter_wal(cursor)  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")  # deleting a conversation deletes its messages
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, much faster
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so), waiting out another process's first write.

    A new file is in WAL mode once its first write commits. Until then, a second process
    (a replica started at the same moment, migrating the same file) asking for WAL while the
    first writes gets "database is locked" at once: SQLite skips the busy timeout where
    waiting could deadlock. So it is asked again, as long as the busy timeout would wait.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their directory, WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=POOL_SIZE)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration.

    Replicas starting at once against one database take turns: each migrates under a lock held
    until its transaction commits, so the later ones find the schema current and do nothing.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        hold_startup_lock(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def hold_startup_lock(connection: Connection) -> None:
    """Hold this database's startup lock until the transaction ends: replicas starting at once take turns."""
    backend = connection.dialect.name
    if backend == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})
    elif backend == "sqlite":
        # pysqlite opens no transaction before DDL, so two processes would both create the tables:
        # take the write lock now. The other waits for it longer than for a write: a migration
        # may take a while (indexing a big history for search, on a busy machine).
        connection.exec_driver_sql(f"PRAGMA busy_timeout={STARTUP_WAIT_MS}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class Store:
    """Conversations and messages, always scoped to an owner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)
        # SQLite takes one writer at a time, and a writer that finds the file locked sleeps
        # 1, 2, 5, 10... ms before it tries again. This process's writers queue on a lock
        # instead: 64 turns' writes from 6 threads took 120-150 ms so, 160-190 ms without.
        self._writing: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @classmethod
    def open(cls, url: str) -> Store:
        """A ready store: connected, migrated, with answers a previous process left unfinished closed."""
        store = cls(create_db_engine(url))
        store.prepare()
        return store

    def prepare(self) -> None:
        """Migrate the schema, and close answers a previous process left unfinished."""
        migrate(self.engine)
        self.close_interrupted()

    def close(self) -> None:
        self.engine.dispose()

    # -- conversations --------------------------------------------------------

    def create_conversation(self, owner: str, *, title: str = "", most: int | None = None) -> ConversationInfo:
        """A new conversation; refused (Conflict) when the owner already has `most` of them."""
        now = time.time()
        conversation = Conversation(
            id=secrets.token_hex(16), owner=owner, title=title_text(title), created_at=now, updated_at=now
        )
        with self._writing, self._session.begin() as session:
            if most is not None:
                # Counted in the inserting transaction, by one creator of the owner's at a time: this
                # process's SQLite writers take turns anyway (`_writing`); on PostgreSQL, creations at the
                # same instant (from any replica) would each see room for one more without the lock.
                if self.engine.dialect.name == "postgresql":
                    session.execute(OWNER_LOCK, {"space": CREATION_LOCK_SPACE, "key": _lock_key(owner)})
                kept = session.scalar(select(func.count()).where(Conversation.owner == owner)) or 0
                if kept >= most:
                    raise Conflict(
                        f"You have {kept:,} conversation{'s' if kept != 1 else ''}: the most one may keep.",
                        hint="Delete some to start a new one.",
                    )
            session.add(conversation)
        return _info(conversation)

    def _owned(self, session: Session, owner: str, conversation_id: str) -> Conversation:
        if _UNSTORABLE.search(conversation_id):  # no id holds one, and PostgreSQL would refuse the query
            raise _no_such_conversation()
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.owner != owner:
            raise _no_such_conversation()
        return conversation

    def conversation(self, owner: str, conversation_id: str) -> ConversationInfo:
        with self.engine.connect() as db:
            return _owned_info(db, owner, conversation_id)

    def list_conversations(self, owner: str, *, search: str = "", limit: int = 200) -> list[ConversationInfo]:
        """The owner's conversations, newest first; `search` keeps those whose title or message text contains it.

        What "contains" means, and how an index serves it, is `webapp.db.search`'s.
        """
        term = search.strip()
        if _UNSTORABLE.search(term):  # no stored text holds one (and SQLite's FTS5 or PostgreSQL would fail)
            return []
        with self._session() as session:
            if term:
                return [
                    ConversationInfo(*found)
                    for found in history_search.conversations(session.connection(), owner, term, limit)
                ]
            query = select(Conversation).where(Conversation.owner == owner)
            query = query.order_by(Conversation.updated_at.desc()).limit(limit)
            return [_info(c) for c in session.scalars(query)]

    def rename(self, owner: str, conversation_id: str, title: str) -> ConversationInfo:
        title = title_text(title)
        if not title:
            raise InvalidInput("A title cannot be empty.")
        with self._writing, self._session.begin() as session:
            conversation = self._owned(session, owner, conversation_id)
            conversation.title = title
            return _info(conversation)

    def delete_conversation(self, owner: str, conversation_id: str) -> None:
        with self._writing, self._session.begin() as session:
            session.delete(self._owned(session, owner, conversation_id))

    # -- messages -------------------------------------------------------------

    # Every turn reads and writes messages several times: these use SQLAlchemy Core, a
    # fraction of the ORM's cost per call (its identity map and unit of work buy nothing here).

    def messages(self, owner: str, conversation_id: str) -> list[MessageRecord]:
        with self.engine.connect() as db:
            _owned_info(db, owner, conversation_id)
            return [MessageRecord(*row) for row in db.execute(MESSAGES_OF, {"conversation_id": conversation_id})]

    def add_message(self, owner: str, conversation_id: str, **fields: Any) -> MessageRecord:
        """Store a message; the conversation's title defaults to its first user message."""
        with self._writing, self.engine.begin() as db:
            return _add_message(db, owner, conversation_id, fields)

    def begin_turns(self, turns: list[tuple[str, str, str]]) -> list[list[MessageRecord] | Exception]:
        """Store each (owner, conversation id, user message) and read its conversation back, all in
        one transaction (how turns begin: those that start together commit together). An unknown
        conversation fails alone: its ownership check comes before any write, so nothing is undone."""
        out: list[list[MessageRecord] | Exception] = []
        with self._writing, self.engine.begin() as db:
            for owner, conversation_id, content in turns:
                try:
                    _add_message(db, owner, conversation_id, {"role": "user", "content": content})
                except NotFound as exc:
                    out.append(exc)
                    continue
                out.append(
                    [MessageRecord(*row) for row in db.execute(MESSAGES_OF, {"conversation_id": conversation_id})]
                )
        return out

    def save_answers(self, answers: list[FinalAnswer]) -> list[MessageRecord | Exception]:
        """Write each answer as its turn ended (a new message, or its checkpointed one rewritten),
        all in one transaction; one whose conversation or message is gone fails alone."""
        out: list[MessageRecord | Exception] = []
        with self._writing, self.engine.begin() as db:
            for owner, conversation_id, message_id, fields in answers:
                try:
                    if message_id is None:
                        out.append(_add_message(db, owner, conversation_id, {"role": "assistant"} | fields))
                    else:
                        out.append(_update_message(db, message_id, fields))
                except NotFound as exc:
                    out.append(exc)
        return out

    def update_message(self, message_id: int, **fields: Any) -> MessageRecord:
        """Rewrite an answer at a checkpoint (its final state goes through `save_answers`)."""
        with self._writing, self.engine.begin() as db:
            return _update_message(db, message_id, fields)

    def delete_messages_from(self, owner: str, conversation_id: str, message_id: int) -> int:
        """Delete a message and every later one (regenerate, edit and resend)."""
        with self._writing, self._session.begin() as session:
            self._owned(session, owner, conversation_id)
            result = session.execute(
                delete(Message).where(Message.conversation_id == conversation_id, Message.id >= message_id)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def close_interrupted(self) -> int:
        """Answers still `streaming` belong to a process that died: keep them as errors."""
        with self._writing, self._session.begin() as session:
            result = session.execute(
                update(Message)
                .where(Message.state == MessageState.STREAMING)
                .values(state=MessageState.ERROR, error="The app stopped while this answer was being written.")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # -- settings -------------------------------------------------------------

    def settings(self, owner: str) -> dict[str, Any] | None:
        """The owner's saved chat settings, or None if they never saved any."""
        with self._session() as session:
            row = session.get(OwnerSettings, owner)
            if row is None:
                return None
            return {name: getattr(row, name) for name in SETTING_FIELDS}

    def save_settings(self, owner: str, **values: Any) -> None:
        with self._writing, self._session.begin() as session:
            row = session.get(OwnerSettings, owner)
            if row is None:
                session.add(OwnerSettings(owner=owner, updated_at=time.time(), **values))
                return
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = time.time()

    # -- share links ----------------------------------------------------------

    def share(self, owner: str, conversation_id: str, *, expires_at: float | None) -> ShareInfo:
        """Snapshot the conversation's finished messages under a random token (one link per conversation).

        Sharing again refreshes the snapshot and keeps the link, unless it expired: an expired link
        stays dead, and the conversation gets a new one.
        """
        with self._writing, self._session.begin() as session:
            conversation = self._owned(session, owner, conversation_id)
            rows = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.state != MessageState.STREAMING)
                .order_by(Message.id)
            )
            snapshot = json.dumps(
                [{"role": m.role, "content": m.content, "reasoning": m.reasoning} for m in rows], ensure_ascii=False
            )
            share = session.scalar(select(Share).where(Share.conversation_id == conversation_id))
            now = time.time()
            if share is not None and share.expires_at is not None and share.expires_at <= now:
                session.delete(share)
                session.flush()  # gone before its successor is inserted
                share = None
            if share is None:
                # 32 random bytes = 256 bits: a link cannot be guessed, only given.
                share = Share(token=secrets.token_urlsafe(32), conversation_id=conversation_id, owner=owner)
                session.add(share)
            share.title, share.snapshot = conversation.title, snapshot
            share.created_at, share.expires_at = now, expires_at
            return ShareInfo(share.token, conversation_id, share.title, share.created_at, expires_at)

    def unshare(self, owner: str, conversation_id: str) -> None:
        with self._writing, self._session.begin() as session:
            self._owned(session, owner, conversation_id)
            result = session.execute(delete(Share).where(Share.conversation_id == conversation_id))
            if not getattr(result, "rowcount", 0):
                raise NotFound("This conversation is not shared.")

    def shares(self, owner: str) -> list[ShareInfo]:
        """The owner's links that still work, newest first."""
        query = select(Share).where(Share.owner == owner).order_by(Share.created_at.desc())
        with self._session() as session:
            now = time.time()
            return [
                ShareInfo(r.token, r.conversation_id, r.title, r.created_at, r.expires_at)
                for r in session.scalars(query)
                if r.expires_at is None or r.expires_at > now
            ]

    def shared(self, token: str) -> SharedSnapshot:
        """The snapshot behind a link; NotFound when there is none, it was revoked, or it expired."""
        with self._session() as session:
            share = session.get(Share, token) if 20 <= len(token) <= 64 and not _UNSTORABLE.search(token) else None
            if share is None or (share.expires_at is not None and share.expires_at <= time.time()):
                raise NotFound("This link does not exist, was revoked, or has expired.")
            return SharedSnapshot(share.title, json.loads(share.snapshot), share.created_at)
