"""How an owner keeps their list: conversations pinned to its top, and deleted ones brought back.

A conversation deleted from the page is hidden first (`deleted_at`): every read of the owner's
leaves it out (`KEPT`), its share link stops working, and for `UNDO_SECONDS` it can be brought back
whole. Then it is deleted for good, with its messages and link (`purge_deleted`).
"""

from __future__ import annotations

import time
from dataclasses import replace

from sqlalchemy import Connection, delete, select, update

from webapp.db.database import Database
from webapp.db.records import ConversationInfo
from webapp.db.tables import Conversation
from webapp.db.text import unstorable
from webapp.errors import NotFound

# How long a conversation deleted from the page can be brought back.
UNDO_SECONDS = 10.0
# A conversation's columns as `ConversationInfo` has them.
INFO_COLUMNS = (
    Conversation.id,
    Conversation.title,
    Conversation.created_at,
    Conversation.updated_at,
    Conversation.pinned,
)
# The conversations that are not deleted: every read of an owner's conversations keeps to them.
KEPT = Conversation.deleted_at.is_(None)


def info_of(conversation: Conversation) -> ConversationInfo:
    return ConversationInfo(
        conversation.id, conversation.title, conversation.created_at, conversation.updated_at, conversation.pinned
    )


def no_such_conversation() -> NotFound:
    # The same answer for an unknown id and another owner's: neither says which it is.
    return NotFound("No such conversation.", hint="It may have been deleted.", code="no_conversation")


def pinned_first(db: Connection, owner: str, found: list[ConversationInfo]) -> list[ConversationInfo]:
    """Conversations found (a search's, in their order) marked pinned where they are, the pinned ones first."""
    ids = [c.id for c in found]
    query = select(Conversation.id).where(Conversation.owner == owner, Conversation.pinned, Conversation.id.in_(ids))
    pinned = set(db.scalars(query)) if ids else set()
    marked = [replace(c, pinned=c.id in pinned) for c in found]
    return sorted(marked, key=lambda c: not c.pinned)  # stable: each part keeps its order


def trashed(db: Connection, conversation_id: str) -> bool:
    """Whether the conversation is deleted, waiting to be brought back or deleted for good."""
    query = select(Conversation.deleted_at).where(Conversation.id == conversation_id)
    return db.scalar(query) is not None


class Keeping:
    """The `Store`'s part that keeps the list; its `database` is the store's."""

    database: Database

    def _change(self, owner: str, conversation_id: str, deleted: bool | None, **values: object) -> ConversationInfo:
        """Set `values` on the owner's conversation, if it is deleted (`deleted`), or not, or either (None)."""
        if unstorable(conversation_id):
            raise no_such_conversation()
        statement = update(Conversation).where(Conversation.id == conversation_id, Conversation.owner == owner)
        if deleted is not None:
            statement = statement.where(KEPT if not deleted else Conversation.deleted_at.is_not(None))
        with self.database.transaction() as db:
            row = db.execute(statement.values(**values).returning(*INFO_COLUMNS)).first()
        if row is None:
            raise no_such_conversation()
        return ConversationInfo(*row)

    def set_pinned(self, owner: str, conversation_id: str, pinned: bool) -> ConversationInfo:
        """Pin the conversation to the top of the owner's list, or unpin it; when it was last
        written to (its place among the unpinned) does not change."""
        return self._change(owner, conversation_id, False, pinned=pinned)

    def trash(self, owner: str, conversation_id: str) -> ConversationInfo:
        """Delete the conversation so that `restore` can bring it back until `purge_deleted` runs."""
        return self._change(owner, conversation_id, False, deleted_at=time.time())

    def restore(self, owner: str, conversation_id: str) -> ConversationInfo:
        """Bring back a conversation `trash` deleted, as it was; NotFound once it is gone for good."""
        try:
            return self._change(owner, conversation_id, True, deleted_at=None)
        except NotFound as exc:
            raise NotFound(
                "This chat is deleted for good: it can no longer be brought back.", code="not_restorable"
            ) from exc

    def purge_deleted(self, before: float | None = None) -> int:
        """Delete for good (messages and link too) the conversations `trash` deleted before `before`
        (by default, those whose undo time is over)."""
        before = time.time() - UNDO_SECONDS if before is None else before
        statement = delete(Conversation).where(Conversation.deleted_at.is_not(None), Conversation.deleted_at <= before)
        with self.database.transaction() as db:
            return int(getattr(db.execute(statement), "rowcount", 0) or 0)
