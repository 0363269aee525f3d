"""A conversation's versions tree as the store reads and changes it, inside the caller's transaction."""

from __future__ import annotations

import time

from sqlalchemy import Connection, bindparam, select, update

from webapp.db.records import MessageRecord
from webapp.db.tables import Message
from webapp.db.tree import Tree
from webapp.errors import InvalidInput, NotFound

# Statements built once (building one costs more than running it on SQLite).
MESSAGE_COLUMNS = [getattr(Message, name) for name in MessageRecord.__slots__]
MESSAGES_OF = (
    select(*MESSAGE_COLUMNS).where(Message.conversation_id == bindparam("conversation_id")).order_by(Message.id)
)
CHOOSE = (
    update(Message)
    .where(Message.conversation_id == bindparam("conversation"), Message.id.in_(bindparam("ids", expanding=True)))
    .values(chosen_at=bindparam("now"))
)


def read_tree(db: Connection, conversation_id: str) -> Tree:
    """Every message of the conversation (whose owner the caller has checked)."""
    return Tree(MessageRecord(*row) for row in db.execute(MESSAGES_OF, {"conversation_id": conversation_id}))


def no_message() -> NotFound:
    return NotFound("No such message in this conversation.", code="no_message")


def edit_point(tree: Tree, replacing: int | None) -> list[MessageRecord]:
    """What a new user message follows: the branch shown (None), or the messages before the
    user message it is a new version of (`replacing`)."""
    if replacing is None:
        return tree.branch()
    edited = tree.by_id.get(replacing)
    if edited is None:
        raise no_message()
    if edited.role != "user":
        raise InvalidInput("Only your own messages can be edited.", code="nothing_to_edit")
    return tree.path_to(edited.parent_id)


def choose(db: Connection, conversation_id: str, message_id: int) -> list[MessageRecord]:
    """Show `message_id` among its versions (and the messages above it among theirs): the branch then."""
    tree = read_tree(db, conversation_id)
    if message_id not in tree.by_id:
        raise no_message()
    path = [m.id for m in tree.path_to(message_id)]
    db.execute(CHOOSE, {"conversation": conversation_id, "ids": path, "now": time.time()})
    return read_tree(db, conversation_id).branch()
