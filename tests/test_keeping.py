"""How an owner keeps their list, on a real database: pins, deletes that can be undone (and the
upgrades that brought them)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.helpers import assert_index_in_step, migrate_to
from webapp.db.database import Database, create_sql_engine, migrate
from webapp.db.keeping import UNDO_SECONDS
from webapp.db.store import Store
from webapp.errors import NotFound


def test_pinned_chats_come_first_and_keep_their_place_among_the_others_when_unpinned(store: Store) -> None:
    old, middle, new = (store.create_conversation("alice", title=name) for name in ("old", "middle", "new"))
    time.sleep(0.01)
    for conversation in (old, middle, new):
        store.add_message("alice", conversation.id, role="user", content=conversation.title)
    assert [c.title for c in store.list_conversations("alice")] == ["new", "middle", "old"]
    pinned = store.set_pinned("alice", old.id, True)
    assert pinned.pinned and pinned.updated_at == store.conversation("alice", old.id).updated_at
    listed = store.list_conversations("alice")
    assert [(c.title, c.pinned) for c in listed] == [("old", True), ("new", False), ("middle", False)]
    assert [(c.title, c.pinned) for c in store.list_conversations("alice", search="d")] == [
        ("old", True),
        ("middle", False),
    ]
    assert store.conversation("alice", old.id).pinned
    assert not store.set_pinned("alice", old.id, False).pinned
    assert [c.title for c in store.list_conversations("alice")] == ["new", "middle", "old"]


def test_another_owners_chat_cannot_be_pinned(store: Store) -> None:
    theirs = store.create_conversation("alice")
    with pytest.raises(NotFound):
        store.set_pinned("bob", theirs.id, True)
    with pytest.raises(NotFound):
        store.set_pinned("bob", "x\x00", True)
    assert not store.conversation("alice", theirs.id).pinned


def test_chats_from_before_pins_are_kept_unpinned(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0010")  # before pins and undoable deletes
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, owner, title, created_at, updated_at) "
                "VALUES ('c1', 'alice', 'kept', 1, 2)"
            )
        )
    migrate(engine)
    store = Store(Database(engine))
    assert [(c.id, c.title, c.pinned) for c in store.list_conversations("alice")] == [("c1", "kept", False)]
    store.set_pinned("alice", "c1", True)
    assert store.conversation("alice", "c1").pinned
    store.trash("alice", "c1")
    assert store.list_conversations("alice") == []
    migrate_to(engine, "0011", down=True)  # what was deleted goes for good; the rest stays
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM conversations")).scalar() == 0
    engine.dispose()


def rows(store: Store, conversation_id: str) -> list[int]:
    """The conversation's rows in each table that holds some: conversation, messages, share."""
    with store.database.sql.connect() as db:
        return [
            db.execute(text(f"SELECT count(*) FROM {table} WHERE {key} = :id"), {"id": conversation_id}).scalar() or 0
            for table, key in (("conversations", "id"), ("messages", "conversation_id"), ("shares", "conversation_id"))
        ]


def test_a_deleted_chat_is_hidden_everywhere_until_brought_back_whole(store: Store) -> None:
    kept = store.create_conversation("alice", title="kept")
    gone = store.create_conversation("alice", title="whale songs")
    store.add_message("alice", gone.id, role="user", content="how do whales sing?")
    store.add_message("alice", gone.id, role="assistant", content="low and long")
    store.set_pinned("alice", gone.id, True)
    link = store.share("alice", gone.id, expires_at=None).token
    with pytest.raises(NotFound):
        store.trash("bob", gone.id)  # only the owner's
    store.trash("alice", gone.id)
    assert [c.id for c in store.list_conversations("alice")] == [kept.id]
    assert store.list_conversations("alice", search="whale") == []
    assert store.list_conversations("alice", search="wh") == []  # the scan, below the index's trigrams
    assert [c.id for c in store.all_conversations("alice")] == [kept.id]
    assert store.shares("alice") == []
    for read in (store.conversation, store.messages):
        with pytest.raises(NotFound):
            read("alice", gone.id)
    with pytest.raises(NotFound):
        store.shared(link)
    with pytest.raises(NotFound):
        store.add_message("alice", gone.id, role="user", content="no more")
    with pytest.raises(NotFound):
        store.trash("alice", gone.id)  # deleted once
    with pytest.raises(NotFound):
        store.restore("bob", gone.id)
    back = store.restore("alice", gone.id)
    assert (back.title, back.pinned) == ("whale songs", True)
    assert [m.content for m in store.messages("alice", gone.id)] == ["how do whales sing?", "low and long"]
    assert store.shared(link).title == "whale songs"
    assert [c.id for c in store.list_conversations("alice", search="whale")] == [gone.id]
    with pytest.raises(NotFound):
        store.restore("alice", gone.id)  # not deleted


def test_a_deleted_chat_is_gone_for_good_once_its_undo_time_has_passed(store: Store) -> None:
    gone, later = store.create_conversation("alice"), store.create_conversation("alice")
    for conversation in (gone, later):
        store.add_message("alice", conversation.id, role="user", content="soon forgotten words")
        store.share("alice", conversation.id, expires_at=None)
    store.trash("alice", gone.id)
    assert store.purge_deleted(time.time() - UNDO_SECONDS) == 0  # still in its undo time
    assert rows(store, gone.id) == [1, 1, 1]
    store.trash("alice", later.id)
    assert store.purge_deleted(time.time()) == 2
    assert rows(store, gone.id) == [0, 0, 0] and rows(store, later.id) == [0, 0, 0]
    assert store.list_conversations("alice", search="forgotten") == []
    with pytest.raises(NotFound, match="deleted for good"):
        store.restore("alice", gone.id)
    assert_index_in_step(store)


def test_a_start_of_the_app_deletes_for_good_what_was_deleted_before(database_url: str) -> None:
    first = Store.open(database_url)
    gone = first.create_conversation("alice")
    first.trash("alice", gone.id)
    with first.database.sql.begin() as db:
        db.execute(text("UPDATE conversations SET deleted_at = deleted_at - :undo"), {"undo": UNDO_SECONDS})
    first.close()
    second = Store.open(database_url)
    assert rows(second, gone.id) == [0, 0, 0]
    second.close()


def test_answers_from_before_their_budget_was_kept_have_none(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0012")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES ('c1', 'a', '', 1, 1)")
        )
        connection.execute(
            text(
                "INSERT INTO messages (conversation_id, role, content, reasoning, state, math, created_at) "
                "VALUES ('c1', 'assistant', 'old answer', 'old thought', 'complete', :no, 1)"
            ),
            {"no": False},
        )
    migrate(engine)
    store = Store(Database(engine))
    [answer] = store.messages("a", "c1")
    assert (answer.content, answer.thinking_budget) == ("old answer", None)
    engine.dispose()
