"""Whole conversations written at once (imported histories), with the times they carry."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, insert, text, update

from webapp.db.records import ConversationDraft, ConversationInfo
from webapp.db.tables import Conversation, Message
from webapp.db.text import auto_title, storable, title_text

# A conversation written whole is one branch (`webapp.db.tree`): each message follows the one before it.
LINK_IN_ORDER = text(
    "UPDATE messages SET parent_id = (SELECT max(earlier.id) FROM messages AS earlier "
    "WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id) "
    "WHERE conversation_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def _title(draft: ConversationDraft) -> str:
    title = title_text(draft.title)
    if title:
        return title
    first = next((m.content for m in draft.messages if m.role == "user"), "")
    return auto_title(first)


def insert_conversations(db: Connection, owner: str, drafts: Sequence[ConversationDraft]) -> list[ConversationInfo]:
    """Insert each draft as a new conversation of the owner's with its messages, in the caller's transaction.

    A message without a time takes the one before it (or its conversation's); times never go
    back, so the order of the messages is the order of their times too.
    A draft with `parents` keeps its tree of versions; any other is one branch.
    """
    now = time.time()
    infos: list[ConversationInfo] = []
    rows: list[dict[str, object]] = []
    messages: list[dict[str, object]] = []
    trees: list[tuple[list[dict[str, object]], tuple[int | None, ...]]] = []
    for draft in drafts:
        conversation_id = secrets.token_hex(16)
        created = draft.created_at or next((m.created_at for m in draft.messages if m.created_at), None) or now
        at = created
        own: list[dict[str, object]] = []
        for message in draft.messages:
            at = max(at, message.created_at or at)
            own.append(
                {
                    "conversation_id": conversation_id,
                    "role": message.role,
                    "content": storable(message.content),
                    "reasoning": storable(message.reasoning),
                    "state": message.state,
                    "error": storable(message.error) if message.error else None,
                    "model": title_text(message.model, 200) if message.model else None,
                    "created_at": at,
                    "chosen_at": message.chosen_at,
                }
            )
        if draft.parents is None:
            messages += own
        else:
            trees.append((own, draft.parents))
        updated = max(draft.updated_at or at, at)
        info = ConversationInfo(conversation_id, _title(draft), created, updated)
        infos.append(info)
        rows.append({"id": info.id, "owner": owner, "title": info.title, "created_at": created, "updated_at": updated})
    if rows:
        db.execute(insert(Conversation), rows)
    if messages:
        db.execute(insert(Message), messages)
        db.execute(LINK_IN_ORDER, {"ids": [info.id for info in infos]})
    for own, parents in trees:
        ids = db.execute(insert(Message).returning(Message.id, sort_by_parameter_order=True), own).scalars().all()
        links = [{"child": ids[n], "parent": ids[p]} for n, p in enumerate(parents) if p is not None]
        if links:
            db.execute(LINK, links)
    return infos


LINK = update(Message).where(Message.id == bindparam("child")).values(parent_id=bindparam("parent"))
