"""History search: which of an owner's conversations contain a term, newest first.

One meaning on every path: the term (`%`, `_` and `\\` taken literally) is a
case-insensitive substring of the conversation's title or of one of its messages'
text; the owner's matching conversations come newest (`updated_at`) first, at most
`limit` of them. "Case-insensitive" is the database's: SQLite's LIKE folds ASCII
letters only, PostgreSQL's ILIKE folds every script.

PostgreSQL runs that as one ILIKE query, which the pg_trgm index of migration 0004
serves. SQLite has no index for `LIKE '%term%'`, so a term of 3 or more characters
goes through the FTS5 trigram index of migration 0004 instead (see `_indexed`); a
shorter term, or a database without that index, is a scan of every message.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from sqlalchemy import Connection, or_, select, text

from webapp.db.tables import Conversation, Message

TRIGRAM = 3  # the index knows nothing of shorter terms
# Index matches taken in a first round (a few ms); each further round takes four times more.
FIRST_BATCH = 2000
# Messages older than the batch that a round may read (a few ms) before a larger batch is the cheaper way.
FIRST_BUDGET = 2000

# What migration 0004 makes in SQL rather than from webapp.db.tables (the FTS5 table and its
# shadow tables, the pg_trgm index): Alembic's autogenerate must not offer to drop them.
INDEX_NAMES = ("messages_fts", "ix_messages_content_trgm")

_HAS_INDEX = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages_fts'")
# The newest `size` index matches below a rowid, and whether each is a match for LIKE:
# the index folds case in every script, LIKE in ASCII only, so it finds a few more.
_BATCH = text(
    "SELECT f.rowid, m.conversation_id, m.content LIKE :pattern ESCAPE '\\' "
    "FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH :phrase AND rowid < :below "
    "ORDER BY rowid DESC LIMIT :size) AS f JOIN messages AS m ON m.id = f.rowid"
)
_WALK = text(
    "SELECT c.id, c.title, c.created_at, c.updated_at, c.title LIKE :pattern ESCAPE '\\', "
    "(SELECT min(m.id) FROM messages AS m WHERE m.conversation_id = c.id) "
    "FROM conversations AS c WHERE c.owner = :owner AND c.deleted_at IS NULL ORDER BY c.updated_at DESC"
)
# How many of a conversation's messages older than the batch were read (at most `most`), and whether one matched.
_OLDER = text(
    "SELECT count(*), coalesce(max(content LIKE :pattern ESCAPE '\\'), 0) FROM "
    "(SELECT content FROM messages WHERE conversation_id = :id AND id < :below ORDER BY id DESC LIMIT :most)"
)
_KNOWN = text(
    "SELECT id, title, created_at, updated_at FROM conversations WHERE owner = :owner AND deleted_at IS NULL AND "
    "(title LIKE :pattern ESCAPE '\\' OR id IN (SELECT value FROM json_each(:found))) "
    "ORDER BY updated_at DESC LIMIT :limit"
)
_ABOVE_EVERY_ROWID = 2**63 - 1


class Found(NamedTuple):
    """A matching conversation, as the list shows it."""

    id: str
    title: str
    created_at: float
    updated_at: float


def in_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` hook: everything but the search index."""
    return name is None or not name.startswith(INDEX_NAMES)


def like_pattern(term: str) -> str:
    """`%term%` with the term's own `%`, `_` and `\\` escaped (ESCAPE '\\')."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def fts_phrase(term: str) -> str:
    """The term as one FTS5 phrase: with the trigram tokenizer, a substring."""
    return '"' + term.replace('"', '""') + '"'


def conversations(connection: Connection, owner: str, term: str, limit: int) -> list[Found]:
    """The owner's conversations that contain `term` (stripped, not empty), newest first."""
    if limit <= 0:
        return []
    if connection.dialect.name == "sqlite" and len(term) >= TRIGRAM and connection.scalar(_HAS_INDEX):
        return _indexed(connection, owner, term, limit)
    return _scan(connection, owner, term, limit)


def _scan(connection: Connection, owner: str, term: str, limit: int) -> list[Found]:
    """Every message read: PostgreSQL (its index serves ILIKE), short terms, no index."""
    pattern = like_pattern(term)
    # SQLite's LIKE already folds what its lower() folds (ASCII): the same test, without lower() twice a row.
    title, content = (
        (Conversation.title.like(pattern, escape="\\"), Message.content.like(pattern, escape="\\"))
        if connection.dialect.name == "sqlite"
        else (Conversation.title.ilike(pattern, escape="\\"), Message.content.ilike(pattern, escape="\\"))
    )
    in_messages = select(Message.conversation_id).where(content)
    query = (
        select(Conversation.id, Conversation.title, Conversation.created_at, Conversation.updated_at)
        .where(
            Conversation.owner == owner, Conversation.deleted_at.is_(None), or_(title, Conversation.id.in_(in_messages))
        )
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    return [Found(*row) for row in connection.execute(query)]


def _indexed(connection: Connection, owner: str, term: str, limit: int) -> list[Found]:
    """The same answer as `_scan`, through the index, without reading every match of a common term.

    The newest index matches (a batch) tell which conversations match among the messages
    from the batch's oldest on. Walking the owner's conversations newest first, one
    matches if its title does, if it is among those, or, when it has messages older than
    the batch (an old conversation continued today), if one of those does: they are read.
    The walk ends at `limit` matches, or at the end of the owner's conversations. If it
    would read more than a budget of older messages, a batch four times larger (and a
    larger budget) is taken and the walk starts again. A batch that comes back short
    holds every match: one query then finishes.

    At 200,000 messages that is 10-15 ms for any term, where reading every index match
    of a term in most messages took about 250 ms, and the scan 600 ms.
    """
    pattern, phrase = like_pattern(term), fts_phrase(term)
    found: set[str] = set()  # conversations (of any owner) with a message that matches, from `below` on
    below, size, budget = _ABOVE_EVERY_ROWID, FIRST_BATCH, FIRST_BUDGET
    _snapshot(connection)
    while True:
        batch = connection.execute(_BATCH, {"pattern": pattern, "phrase": phrase, "below": below, "size": size}).all()
        found.update(conversation for _, conversation, matches in batch if matches)
        if len(batch) < size:
            known = {"owner": owner, "pattern": pattern, "found": json.dumps(list(found)), "limit": limit}
            return [Found(*row) for row in connection.execute(_KNOWN, known)]
        below = min(rowid for rowid, _, _ in batch)
        walked = _walk(connection, owner, pattern, found, below, budget, limit)
        if walked is not None:
            return walked
        size, budget = size * 4, budget * 4


def _walk(
    connection: Connection, owner: str, pattern: str, found: set[str], below: int, budget: int, limit: int
) -> list[Found] | None:
    """The answer, from the owner's conversations newest first; None when it would read more than `budget` messages."""
    matches: list[Found] = []
    with connection.execute(_WALK, {"owner": owner, "pattern": pattern}) as walk:
        for *fields, titled, first in walk:
            conversation = Found(*fields)
            if titled or conversation.id in found:
                matches.append(conversation)
            elif first is not None and first < below:
                read, matched = connection.execute(
                    _OLDER, {"pattern": pattern, "id": conversation.id, "below": below, "most": budget + 1}
                ).one()
                budget -= read
                if budget < 0:
                    return None
                if matched:
                    matches.append(conversation)
            # else: every message of it is in the batch's range, and none matched.
            if len(matches) == limit:
                break
    return matches


def _snapshot(connection: Connection) -> None:
    """Read the search's several queries from one snapshot: pysqlite opens no transaction for reads."""
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not getattr(dbapi, "in_transaction", True):
        connection.exec_driver_sql("BEGIN")
