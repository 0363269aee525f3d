"""History search on a real database (a SQLite file, or PostgreSQL with TEST_DATABASE_URL):
what it finds, that its index follows every write, and migration 0004 that makes the index.
"""

from __future__ import annotations

import logging
import random

import pytest
from sqlalchemy import Connection, inspect, text

from tests.helpers import assert_index_in_step, migrate_to, on_postgres
from webapp.db import search
from webapp.db.database import Database, create_sql_engine, migrate
from webapp.db.store import Store
from webapp.db.tables import MessageState

FTS_TABLES = {"messages_fts", "messages_fts_config", "messages_fts_data", "messages_fts_docsize", "messages_fts_idx"}


def found(store: Store, term: str, owner: str = "alice") -> list[str]:
    return [c.id for c in store.list_conversations(owner, search=term)]


def message_indexes(connection: Connection) -> set[str | None]:
    return {index["name"] for index in inspect(connection).get_indexes("messages")}


def test_an_answer_is_found_by_the_text_it_was_last_written_with(store: Store) -> None:
    # A streamed answer is stored empty, checkpointed while it streams, and written at the end.
    conversation = store.create_conversation("alice", title="animals")
    store.add_message("alice", conversation.id, role="user", content="tell me about animals")
    answer = store.add_message("alice", conversation.id, role="assistant", content="", state=MessageState.STREAMING)
    store.update_message(answer.id, content="so far: zebras")
    assert found(store, "zebras") == [conversation.id]
    store.update_message(answer.id, content="in the end: giraffes", state=MessageState.COMPLETE)
    assert found(store, "giraffes") == [conversation.id]
    assert found(store, "zebras") == []
    assert_index_in_step(store)


def test_deleted_messages_and_conversations_are_not_found(store: Store) -> None:
    kept = store.create_conversation("alice", title="kept")
    store.add_message("alice", kept.id, role="user", content="first question")
    assert found(store, "first question") == [kept.id]
    gone = store.create_conversation("alice", title="gone")
    store.add_message("alice", gone.id, role="user", content="a secret question")
    store.delete_conversation("alice", gone.id)  # its messages go by the foreign key's ON DELETE CASCADE
    assert found(store, "secret") == []
    assert_index_in_step(store)  # the index's delete trigger fired for the cascade too


def test_search_folds_case_as_the_database_does(store: Store) -> None:
    conversation = store.create_conversation("alice", title="Notes")
    store.add_message("alice", conversation.id, role="user", content="Autumn Leaves, Ärger im Büro")
    for term in ("autumn", "AUTUMN LEAVES", "au", "Ärger", "Är", "büro"):
        assert found(store, term) == [conversation.id], term
    # SQLite's LIKE folds ASCII letters only, and the index does not widen that; ILIKE folds every script.
    expected = [conversation.id] if on_postgres() else []
    assert found(store, "ärger") == expected
    assert found(store, "är") == expected
    assert found(store, "BÜRO") == expected


def test_two_character_chinese_terms_are_found(store: Store) -> None:
    math = store.create_conversation("alice")
    store.add_message("alice", math.id, role="user", content="请帮我解一道数学题")
    other = store.create_conversation("alice", title="数学史")
    assert found(store, "数学") == [other.id, math.id]
    assert found(store, "数学题") == [math.id]
    assert found(store, "学") == [other.id, math.id]


def test_quotes_percent_underscore_and_backslash_are_literal(store: Store) -> None:
    texts = ['say "hi" now', "100% sure", "x_1 and y", "C:\\temp\\new", "xa1 x%1 100 sure"]
    ids = {}
    for content in texts:
        conversation = store.create_conversation("alice")
        store.add_message("alice", conversation.id, role="user", content=content)
        ids[content] = conversation.id
    assert found(store, '"hi"') == [ids['say "hi" now']]
    assert found(store, '"') == [ids['say "hi" now']]
    assert found(store, "100%") == [ids["100% sure"]]
    assert found(store, "x_1") == [ids["x_1 and y"]]
    assert found(store, "_1") == [ids["x_1 and y"]]
    assert found(store, "\\temp") == [ids["C:\\temp\\new"]]
    assert found(store, "x%1 100") == [ids["xa1 x%1 100 sure"]]
    assert found(store, "%%") == []


def test_another_owners_conversations_are_never_found(store: Store) -> None:
    mine = store.create_conversation("alice", title="tax return")
    store.add_message("alice", mine.id, role="user", content="my private numbers")
    theirs = store.create_conversation("bob", title="numbers")
    for term in ("private", "pr", "tax", "numbers"):
        assert found(store, term, owner="bob") == ([theirs.id] if term == "numbers" else [])
    assert found(store, "numbers") == [mine.id]


def test_an_old_conversation_continued_today_comes_in_its_place(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch of 2 index matches holds only the newest two; the old one is found by reading its older messages.
    monkeypatch.setattr(search, "FIRST_BATCH", 2)
    old = store.create_conversation("alice", title="old")
    store.add_message("alice", old.id, role="user", content="about kiwis, long ago")
    newer = []
    for index in range(4):
        conversation = store.create_conversation("alice", title=f"newer {index}")
        store.add_message("alice", conversation.id, role="user", content=f"kiwis again, {index}")
        newer.append(conversation.id)
    store.add_message("alice", old.id, role="user", content="and today something else")
    assert found(store, "kiwis") == [old.id, *reversed(newer)]
    assert [c.id for c in store.list_conversations("alice", search="kiwis", limit=2)] == [old.id, newer[-1]]


def _plain_reading(history: list[tuple[str, list[str]]], term: str, limit: int) -> list[str]:
    """The meaning of search, in Python: the term in the title or a message, case folded as the database does."""
    fold = str.lower if on_postgres() else (lambda s: s.translate(ASCII_LOWER))
    needle = fold(term.strip())  # as the store takes it
    return [conversation for conversation, texts in history if any(needle in fold(t) for t in texts)][:limit]


ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
PIECES = ["ab", "AB", "bA", "c", "Ä", "ä", "数学", "%", "_", '"', " ", "xyz", "XyZ"]
TERMS = ["ab", "Ab", "abc", "bab", "aba", "ABAB", "xyz", "äb", "Äb", "数学", "数学ab", "a_b", "%x", 'b"c', " ab ", "q"]


@pytest.mark.parametrize("batch", [search.FIRST_BATCH, 3])
def test_search_gives_what_a_plain_reading_gives(store: Store, monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    # Small batches and budget make the index path take every branch: short batches, the walk,
    # reading older messages, running out of budget and taking a larger batch.
    monkeypatch.setattr(search, "FIRST_BATCH", batch)
    monkeypatch.setattr(search, "FIRST_BUDGET", batch)
    rng = random.Random(batch)
    conversations: list[tuple[str, str]] = []
    for _ in range(160):
        if conversations and rng.random() < 0.6:  # a message in an existing conversation, maybe an old one
            owner, conversation_id = rng.choice(conversations)
        else:
            owner = rng.choice(["alice", "alice", "bob"])
            title = "".join(rng.choices(PIECES, k=3)) if rng.random() < 0.3 else ""
            conversation_id = store.create_conversation(owner, title=title).id
            conversations.append((owner, conversation_id))
        content = "".join(rng.choices(PIECES, k=rng.randint(1, 8)))
        store.add_message(owner, conversation_id, role=rng.choice(["user", "assistant"]), content=content)
    for owner in ("alice", "bob"):
        history = [  # newest first: each conversation's title and message text
            (c.id, [c.title, *(m.content for m in store.messages(owner, c.id))])
            for c in store.list_conversations(owner, limit=10**6)
        ]
        for term in TERMS:
            for limit in (1, 5, 200):
                expected = _plain_reading(history, term, limit)
                assert [c.id for c in store.list_conversations(owner, search=term, limit=limit)] == expected, (
                    owner,
                    term,
                    limit,
                )
    assert_index_in_step(store)


def write_old_message(connection: Connection, conversation_id: str, content: str) -> None:
    """A conversation of alice's with one message, in the columns every revision has."""
    connection.execute(
        text("INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES (:id, 'alice', '', 1, 1)"),
        {"id": conversation_id},
    )
    connection.execute(
        text(
            "INSERT INTO messages (conversation_id, role, content, reasoning, state, math, created_at) "
            "VALUES (:id, 'user', :content, '', 'complete', false, 1)"
        ),
        {"id": conversation_id, "content": content},
    )


def test_a_history_from_before_the_index_is_indexed_by_the_upgrade(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0003")
    with engine.begin() as connection:  # as the app of then wrote it
        write_old_message(connection, "c0", "written before the index existed")
    migrate(engine)
    store = Store(Database(engine))
    assert found(store, "before the index") == ["c0"]
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            phrase = search.fts_phrase("before the index")
            hits = connection.execute(text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :p"), {"p": phrase})
            assert len(hits.all()) == 1
        else:
            assert "ix_messages_content_trgm" in message_indexes(connection)
    assert_index_in_step(store)
    engine.dispose()


def test_downgrading_removes_the_index_and_writes_still_work(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate(engine)
    migrate_to(engine, "0003", down=True)
    with engine.connect() as connection:
        assert not set(inspect(connection).get_table_names()) & FTS_TABLES
        assert "ix_messages_content_trgm" not in message_indexes(connection)
    with engine.begin() as connection:  # as the app of then wrote it
        write_old_message(connection, "c0", "no index, no triggers")
    with engine.connect() as connection:  # written: no trigger of the index is left to fail
        written = connection.execute(text("SELECT conversation_id, content FROM messages")).all()
        assert [tuple(row) for row in written] == [("c0", "no index, no triggers")]
    engine.dispose()


@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL only")
def test_without_pg_trgm_the_migration_succeeds_and_search_scans(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A function of pg_trgm's name already there makes CREATE EXTENSION fail, as a missing privilege would.
    engine = create_sql_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE FUNCTION similarity(text, text) RETURNS real AS 'SELECT 0.0' LANGUAGE sql")
    with caplog.at_level(logging.WARNING):
        migrate(engine)
    assert "could not create the pg_trgm extension" in caplog.text
    with engine.connect() as connection:
        assert "ix_messages_content_trgm" not in message_indexes(connection)
    store = Store(Database(engine))
    conversation = store.create_conversation("alice")
    store.add_message("alice", conversation.id, role="user", content="found by a scan")
    assert found(store, "by a scan") == [conversation.id]
    engine.dispose()
