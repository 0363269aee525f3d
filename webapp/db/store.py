"""The history store: every read and write of conversations goes through `Store`.

Every query names the owner, so one browser (or user) never reaches another's
conversations: an id that is not the owner's is simply not found.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from webapp.db import search as history_search
from webapp.db.bulk import insert_conversations
from webapp.db.database import Database
from webapp.db.feedback import FeedbackBook
from webapp.db.keeping import INFO_COLUMNS, KEPT, Keeping, info_of, no_such_conversation, pinned_first, trashed
from webapp.db.records import ConversationDraft, ConversationInfo, MessageRecord, SharedSnapshot, ShareInfo
from webapp.db.tables import Conversation, Message, MessageState, OwnerSettings, Share
from webapp.db.text import auto_title, storable, title_text, unstorable
from webapp.db.tree import Tree, branch_of
from webapp.db.usage import UsageBook, add_usage, check_quota
from webapp.db.versions import MESSAGE_COLUMNS, MESSAGES_OF, choose, edit_point, read_tree
from webapp.errors import Conflict, InvalidInput, NotFound, QuotaExceeded

# The advisory locks (one per owner) under which an owner's conversations are counted and created:
# the two-key form, a key space apart from STARTUP_LOCK's.
CREATION_LOCK_SPACE = 0x72316363  # "r1cc"
OWNER_LOCK = text("SELECT pg_advisory_xact_lock(:space, :key)")
# An owner's settings: the settings table's columns but its key and when they were saved.
SETTING_FIELDS = tuple(c.name for c in OwnerSettings.__table__.columns if c.name not in ("owner", "updated_at"))
SETTINGS_OF = select(OwnerSettings.owner, *(OwnerSettings.__table__.columns[name] for name in SETTING_FIELDS)).where(
    OwnerSettings.owner.in_(bindparam("owners", expanding=True))
)
_MESSAGE_TEXTS = ("content", "reasoning", "error")


# An answer as its turn ended: owner, conversation id, its checkpointed message's id (None if
# it has none yet), its columns, and the (prompt, completion) tokens its turn spent (None: none).
FinalAnswer = tuple[str, str, int | None, dict[str, Any], tuple[int, int] | None]


def _lock_key(owner: str) -> int:
    """The owner as a signed 32-bit key of an advisory lock."""
    return int.from_bytes(hashlib.sha256(owner.encode()).digest()[:4], "big", signed=True)


def _storable_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A message's columns with its texts storable (the model's answer may hold a NUL, as a user's message may)."""
    texts = {name: storable(fields[name]) for name in _MESSAGE_TEXTS if isinstance(fields.get(name), str)}
    return fields | texts if texts else fields


# A turn reads and writes messages several times, through these: SQLAlchemy Core statements
# built once (building one costs more than running it on SQLite) and run on a plain
# connection, without the ORM's identity map and unit of work.
OWNED = select(*INFO_COLUMNS).where(
    Conversation.id == bindparam("conversation_id"), Conversation.owner == bindparam("owner"), KEPT
)
ADD_MESSAGE = insert(Message).returning(*MESSAGE_COLUMNS)  # the columns come from each call's values
UPDATE_MESSAGE = update(Message).where(Message.id == bindparam("message_id")).returning(*MESSAGE_COLUMNS)
# A new message's conversation, if the owner's: touched, and titled by its first user message.
# One statement where a SELECT then an UPDATE would be two: it runs twice per turn.
TOUCH_OWNED = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation"), Conversation.owner == bindparam("owned_by"), KEPT)
    .values(
        updated_at=bindparam("now"),
        title=case((Conversation.title == "", bindparam("first_title")), else_=Conversation.title),
    )
    .returning(Conversation.id)
)


def _owned_info(db: Connection, owner: str, conversation_id: str) -> ConversationInfo:
    if unstorable(conversation_id):  # no id holds one, and PostgreSQL would refuse the query
        raise no_such_conversation()
    row = db.execute(OWNED, {"conversation_id": conversation_id, "owner": owner}).first()
    if row is None:
        raise no_such_conversation()
    return ConversationInfo(*row)


def _add_message(db: Connection, owner: str, conversation_id: str, fields: dict[str, Any]) -> MessageRecord:
    """Store a message after `fields["parent_id"]`, or else at the end of the branch shown."""
    if unstorable(conversation_id):
        raise no_such_conversation()
    now = time.time()
    fields = _storable_fields(fields)
    title = auto_title(str(fields.get("content", ""))) if fields.get("role") == "user" else ""
    touch = {"conversation": conversation_id, "owned_by": owner, "now": now, "first_title": title}
    if db.execute(TOUCH_OWNED, touch).first() is None:
        raise no_such_conversation()
    if "parent_id" not in fields:
        branch = read_tree(db, conversation_id).branch()
        fields = fields | {"parent_id": branch[-1].id if branch else None}
    row = db.execute(ADD_MESSAGE, fields | {"conversation_id": conversation_id, "created_at": now}).one()
    return MessageRecord(*row)


def _update_message(db: Connection, message_id: int, fields: dict[str, Any]) -> MessageRecord:
    row = db.execute(UPDATE_MESSAGE, _storable_fields(fields) | {"message_id": message_id}).first()
    if row is None:
        raise NotFound("No such message.", code="no_message")
    return MessageRecord(*row)


class Store(Keeping):
    """Conversations and messages, always scoped to an owner."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.usage = UsageBook(database)
        self.feedback = FeedbackBook(database)

    @classmethod
    def open(cls, url: str) -> Store:
        """A ready store: connected, migrated, with answers a previous process left unfinished closed."""
        store = cls(Database.at(url))
        store.prepare()
        return store

    def prepare(self) -> None:
        """Migrate the schema, close answers a previous process left unfinished, and delete for good
        the conversations deleted before its end (their undo timer ended with it)."""
        self.database.migrate()
        self.close_interrupted()
        self.purge_deleted()

    def close(self) -> None:
        self.database.close()

    # -- conversations --------------------------------------------------------

    def create_conversation(self, owner: str, *, title: str = "", most: int | None = None) -> ConversationInfo:
        """A new conversation; refused (Conflict) when the owner already has `most` of them."""
        now = time.time()
        conversation = Conversation(
            id=secrets.token_hex(16), owner=owner, title=title_text(title), created_at=now, updated_at=now
        )
        with self.database.writing() as session:
            if most is not None:
                # Counted in the inserting transaction, by one creator of the owner's at a time: this
                # process's SQLite writers take turns anyway (`_writing`); on PostgreSQL, creations at the
                # same instant (from any replica) would each see room for one more without the lock.
                if self.database.backend == "postgresql":
                    session.execute(OWNER_LOCK, {"space": CREATION_LOCK_SPACE, "key": _lock_key(owner)})
                kept = session.scalar(select(func.count()).where(Conversation.owner == owner)) or 0
                if kept >= most:
                    raise Conflict(
                        f"You have {kept:,} conversation{'s' if kept != 1 else ''}: the most one may keep.",
                        hint="Delete some to start a new one.",
                        code="too_many_conversations",
                        params={"kept": kept},
                    )
            session.add(conversation)
        return info_of(conversation)

    def add_conversations(
        self, owner: str, drafts: Sequence[ConversationDraft], *, most: int | None = None
    ) -> list[ConversationInfo]:
        """Store whole conversations (imported ones) with their messages, in one transaction; those
        past the owner's `most` conversations are left out: the list returned is that much shorter."""
        with self.database.transaction() as db:
            if most is not None:  # counted as `create_conversation` counts, under the same lock
                if self.database.backend == "postgresql":
                    db.execute(OWNER_LOCK, {"space": CREATION_LOCK_SPACE, "key": _lock_key(owner)})
                kept = db.scalar(select(func.count()).where(Conversation.owner == owner)) or 0
                drafts = drafts[: max(0, most - kept)]
            return insert_conversations(db, owner, drafts)

    def all_conversations(self, owner: str) -> list[ConversationInfo]:
        """Every conversation of the owner's, oldest first (an export of them all)."""
        query = select(Conversation).where(Conversation.owner == owner, KEPT).order_by(Conversation.created_at)
        with self.database.reading() as session:
            return [info_of(c) for c in session.scalars(query)]

    def _owned(self, session: Session, owner: str, conversation_id: str) -> Conversation:
        if unstorable(conversation_id):  # no id holds one, and PostgreSQL would refuse the query
            raise no_such_conversation()
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.owner != owner or conversation.deleted_at is not None:
            raise no_such_conversation()
        return conversation

    def conversation(self, owner: str, conversation_id: str) -> ConversationInfo:
        with self.database.connection() as db:
            return _owned_info(db, owner, conversation_id)

    def list_conversations(self, owner: str, *, search: str = "", limit: int = 200) -> list[ConversationInfo]:
        """The owner's conversations, pinned ones first, then newest first; `search` keeps those whose
        title or message text contains it.

        What "contains" means, and how an index serves it, is `webapp.db.search`'s.
        """
        term = search.strip()
        if unstorable(term):  # no stored text holds one (and SQLite's FTS5 or PostgreSQL would fail)
            return []
        with self.database.reading() as session:
            if term:
                found = history_search.conversations(session.connection(), owner, term, limit)
                return pinned_first(session.connection(), owner, [ConversationInfo(*row) for row in found])
            query = select(Conversation).where(Conversation.owner == owner, KEPT)
            query = query.order_by(Conversation.pinned.desc(), Conversation.updated_at.desc()).limit(limit)
            return [info_of(c) for c in session.scalars(query)]

    def rename(self, owner: str, conversation_id: str, title: str) -> ConversationInfo:
        title = title_text(title)
        if not title:
            raise InvalidInput("A title cannot be empty.", code="title_empty")
        with self.database.writing() as session:
            conversation = self._owned(session, owner, conversation_id)
            conversation.title = title
            return info_of(conversation)

    def delete_conversation(self, owner: str, conversation_id: str) -> None:
        with self.database.writing() as session:
            session.delete(self._owned(session, owner, conversation_id))

    # -- messages -------------------------------------------------------------

    # Every turn reads and writes messages several times: these use SQLAlchemy Core, a
    # fraction of the ORM's cost per call (its identity map and unit of work buy nothing here).

    def messages(self, owner: str, conversation_id: str) -> list[MessageRecord]:
        """The branch shown (`webapp.db.tree`): the conversation as the page and the model see it."""
        with self.database.connection() as db:
            _owned_info(db, owner, conversation_id)
            return branch_of(
                [MessageRecord(*row) for row in db.execute(MESSAGES_OF, {"conversation_id": conversation_id})]
            )

    def tree(self, owner: str, conversation_id: str) -> Tree:
        """Every message of the conversation, every version of each."""
        with self.database.connection() as db:
            _owned_info(db, owner, conversation_id)
            return read_tree(db, conversation_id)

    def choose(self, owner: str, conversation_id: str, message_id: int) -> list[MessageRecord]:
        """Show a message among its versions (what follows it: its own latest branch): the branch then."""
        with self.database.transaction() as db:
            _owned_info(db, owner, conversation_id)
            return choose(db, conversation_id, message_id)

    def add_message(self, owner: str, conversation_id: str, **fields: Any) -> MessageRecord:
        """Store a message; the conversation's title defaults to its first user message."""
        with self.database.transaction() as db:
            return _add_message(db, owner, conversation_id, fields)

    def begin_turns(
        self, turns: list[tuple[str, str, str, int | None]], *, daily_tokens: int | None = None
    ) -> list[list[MessageRecord] | Exception]:
        """Store each (owner, conversation id, user message, the user message it is a new version of
        or None) and return the branch it ends, all in one transaction (how turns begin: those that
        start together commit together). A turn refused (its owner past their day's quota, of which
        `daily_tokens` is the default; an unknown conversation; no such message to edit) fails alone:
        its checks come before any write, so nothing is undone."""
        out: list[list[MessageRecord] | Exception] = []
        now = time.time()
        with self.database.transaction() as db:
            for owner, conversation_id, content, replacing in turns:
                try:
                    check_quota(db, owner, daily_tokens, now)
                    if replacing is not None:  # no message of another owner's is looked for
                        _owned_info(db, owner, conversation_id)
                    elif unstorable(conversation_id):
                        raise no_such_conversation()
                    before = edit_point(read_tree(db, conversation_id), replacing)
                    fields = {"role": "user", "content": content, "parent_id": before[-1].id if before else None}
                    out.append([*before, _add_message(db, owner, conversation_id, fields)])
                except (QuotaExceeded, NotFound, InvalidInput) as exc:
                    out.append(exc)
        return out

    def save_answers(self, answers: list[FinalAnswer]) -> list[MessageRecord | Exception]:
        """Write each answer as its turn ended (a new message, or its checkpointed one rewritten)
        and the tokens it spent, all in one transaction; one whose conversation or message is gone
        fails alone (its tokens still count: they were spent)."""
        out: list[MessageRecord | Exception] = []
        with self.database.transaction() as db:
            for owner, conversation_id, message_id, fields, spent in answers:
                if spent is not None:
                    add_usage(db, owner, *spent)
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
        with self.database.transaction() as db:
            return _update_message(db, message_id, fields)

    def close_interrupted(self) -> int:
        """Answers still `streaming` belong to a process that died: keep them as errors."""
        with self.database.writing() as session:
            result = session.execute(
                update(Message)
                .where(Message.state == MessageState.STREAMING)
                .values(state=MessageState.ERROR, error="The app stopped while this answer was being written.")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # -- settings -------------------------------------------------------------

    def settings(self, owner: str) -> dict[str, Any] | None:
        """The owner's saved chat settings, or None if they never saved any."""
        return self.settings_of({owner}).get(owner)

    def settings_of(self, owners: Collection[str]) -> dict[str, dict[str, Any]]:
        """The saved chat settings of those `owners` who saved some."""
        if not owners:
            return {}
        with self.database.connection() as db:
            rows = db.execute(SETTINGS_OF, {"owners": list(owners)})
            return {row[0]: dict(zip(SETTING_FIELDS, row[1:], strict=True)) for row in rows}

    def save_settings(self, owner: str, changes: Mapping[str, Any], *, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """Change `changes` of the owner's settings (one who has none yet starts from `defaults`); all of them after."""
        with self.database.writing() as session:
            row = session.get(OwnerSettings, owner)
            if row is None:
                row = OwnerSettings(owner=owner, **(dict(defaults) | dict(changes)))
                session.add(row)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = time.time()
            session.flush()  # what the database filled in (its defaults) is read back too
            return {name: getattr(row, name) for name in SETTING_FIELDS}

    # -- share links ----------------------------------------------------------

    def share(self, owner: str, conversation_id: str, *, expires_at: float | None) -> ShareInfo:
        """Snapshot the conversation's finished messages under a random token (one link per conversation).

        Sharing again refreshes the snapshot and keeps the link, unless it expired: an expired link
        stays dead, and the conversation gets a new one.
        """
        with self.database.writing() as session:
            conversation = self._owned(session, owner, conversation_id)
            branch = read_tree(session.connection(), conversation_id).branch()
            rows = [m for m in branch if m.state != MessageState.STREAMING]
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
        with self.database.writing() as session:
            self._owned(session, owner, conversation_id)
            result = session.execute(delete(Share).where(Share.conversation_id == conversation_id))
            if not getattr(result, "rowcount", 0):
                raise NotFound("This conversation is not shared.", code="not_shared")

    def shares(self, owner: str) -> list[ShareInfo]:
        """The owner's links that still work, newest first."""
        query = (
            select(Share)
            .join(Conversation, Conversation.id == Share.conversation_id)
            .where(Share.owner == owner, KEPT)
            .order_by(Share.created_at.desc())
        )
        with self.database.reading() as session:
            now = time.time()
            return [
                ShareInfo(r.token, r.conversation_id, r.title, r.created_at, r.expires_at)
                for r in session.scalars(query)
                if r.expires_at is None or r.expires_at > now
            ]

    def shared(self, token: str) -> SharedSnapshot:
        """The snapshot behind a link; NotFound when there is none, it was revoked, or it expired."""
        with self.database.reading() as session:
            share = session.get(Share, token) if 20 <= len(token) <= 64 and not unstorable(token) else None
            expired = share is not None and share.expires_at is not None and share.expires_at <= time.time()
            if share is None or expired or trashed(session.connection(), share.conversation_id):
                raise NotFound("This link does not exist, was revoked, or has expired.", code="no_share")
            return SharedSnapshot(share.title, json.loads(share.snapshot), share.created_at)
