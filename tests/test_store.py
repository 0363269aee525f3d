"""The history store on a real database (a SQLite file, or PostgreSQL with TEST_DATABASE_URL):
schema, migrations, ownership, life of a message.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, event, inspect, text, update
from sqlalchemy.pool import NullPool

from tests.helpers import migrate_to, on_postgres
from webapp.chat.preferences import Preferences
from webapp.db.database import Database, create_sql_engine, migrate
from webapp.db.records import ConversationDraft, MessageDraft, MessageRecord
from webapp.db.search import in_models
from webapp.db.store import Store
from webapp.db.tables import Base, MessageState, Share
from webapp.db.text import title_text
from webapp.errors import Conflict, InvalidInput, NotFound
from webapp.llm.sampling import Sampling

ROOT = Path(__file__).resolve().parent.parent


def differences_from_the_models(connection: Connection) -> list[Any]:
    """What autogenerate would change, leaving out the search index (SQL of migration 0004, not models)."""
    context = MigrationContext.configure(connection, opts={"include_name": in_models})
    return list(compare_metadata(context, Base.metadata))


MODEL_TABLES = {
    "conversations",
    "messages",
    "owner_settings",
    "users",
    "sessions",
    "api_tokens",
    "shares",
    "usage",
    "quotas",
    "feedback",
}
# SQLite's search index: the FTS5 table and the shadow tables it keeps its index in.
FTS_TABLES = {"messages_fts", "messages_fts_config", "messages_fts_data", "messages_fts_docsize", "messages_fts_idx"}


def test_migrating_an_empty_database_gives_exactly_the_models(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        assert differences_from_the_models(connection) == []
        search_index = set() if on_postgres() else FTS_TABLES
        assert set(inspect(connection).get_table_names()) == {"alembic_version"} | MODEL_TABLES | search_index
    migrate(engine)  # a second start finds nothing to do
    engine.dispose()


def test_settings_from_before_the_language_keep_their_values_with_no_language_chosen(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO owner_settings (owner, temperature, top_p, max_tokens, math, show_reasoning, persona, "
                "updated_at) VALUES ('alice', 0.7, 0.9, NULL, :yes, :no, 'p', 0)"
            ),
            {"yes": True, "no": False},
        )
    migrate(engine)
    store = Store(Database(engine))
    saved = store.settings("alice")
    assert saved is not None
    assert Preferences.from_columns(saved) == Preferences(Sampling(0.7, 0.9, None, True, "p"), show_reasoning=False)
    assert saved["language"] == ""
    store.save_settings("alice", {"language": "zh"}, defaults={})
    migrate_to(engine, "0005", down=True)  # and back: the language goes, the rest stays
    with engine.connect() as connection:
        assert "language" not in {column["name"] for column in inspect(connection).get_columns("owner_settings")}
        assert connection.execute(text("SELECT persona FROM owner_settings")).scalar() == "p"
    engine.dispose()


# Each process waits for a shared start time, so that all of them migrate at the same moment.
MIGRATE_AT = """
import sys, time
from webapp.db.database import create_sql_engine, migrate
engine = create_sql_engine(sys.argv[1])
with engine.connect():  # connected and ready before the start
    pass
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
migrate(engine)
"""


def test_replicas_starting_at_once_on_an_empty_database_migrate_it_once(database_url: str) -> None:
    # Without the migration lock, about every other run fails here: two processes create the same tables.
    at = str(time.time() + 4)  # past the imports
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_AT, database_url, at], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    failures = [error for replica in replicas if (error := replica.communicate(timeout=60)[1]) and replica.returncode]
    assert failures == []
    engine = create_sql_engine(database_url)
    with engine.connect() as connection:
        assert differences_from_the_models(connection) == []
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


@pytest.mark.skipif(on_postgres(), reason="SQLite only")
def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(store: Store) -> None:
    with store.database.sql.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


@pytest.mark.skipif(on_postgres(), reason="SQLite only")
def test_a_new_sqlite_file_opens_while_another_process_writes_its_first_tables(tmp_path: Path) -> None:
    """Two replicas at once on a new file: the second's WAL switch meets the first's schema write."""
    path = tmp_path / "new.db"
    first = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    first.execute("BEGIN IMMEDIATE")  # the other replica, migrating: its file is not yet in WAL mode
    first.execute("CREATE TABLE migrating (x)")
    committer = threading.Timer(0.5, first.execute, ["COMMIT"])
    committer.start()
    engine = create_sql_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:  # "database is locked" at once, before the retry
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("SELECT count(*) FROM migrating")).scalar() == 0
    finally:
        committer.join()
        engine.dispose()
        first.close()


@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL only")
def test_postgresql_connections_cut_by_the_server_are_replaced(store: Store, database_url: str) -> None:
    # A database restart or failover cuts every connection: the next request must not fail for it.
    conversation = store.create_conversation("alice", title="before")  # leaves a connection in the pool
    cutter = create_engine(database_url, poolclass=NullPool)
    with cutter.connect() as connection:
        assert connection.execute(text("SHOW server_encoding")).scalar() == "UTF8"
        cut = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    cutter.dispose()
    assert cut == 1
    assert store.conversation("alice", conversation.id).title == "before"


def test_the_first_user_message_titles_the_conversation(store: Store) -> None:
    conversation = store.create_conversation("alice")
    store.add_message("alice", conversation.id, role="user", content="  What is\n2+2?  ")
    assert store.conversation("alice", conversation.id).title == "What is 2+2?"
    store.add_message("alice", conversation.id, role="user", content="later")
    assert store.conversation("alice", conversation.id).title == "What is 2+2?"


def test_a_turn_begins_with_the_message_stored_and_the_conversation_read_back(store: Store) -> None:
    conversation = store.create_conversation("alice")
    first = store.add_message("alice", conversation.id, role="user", content="one")
    answer = store.add_message("alice", conversation.id, role="assistant", content="two", state=MessageState.STREAMING)
    assert (answer.state, answer.reasoning, answer.math, answer.error) == ("streaming", "", False, None)  # defaults
    [history] = store.begin_turns([("alice", conversation.id, "three", None)])
    assert isinstance(history, list)
    assert [(m.role, m.content) for m in history] == [("user", "one"), ("assistant", "two"), ("user", "three")]
    assert history[0] == first and history == store.messages("alice", conversation.id)
    updated = store.update_message(answer.id, content="two, finished", state=MessageState.COMPLETE, answer_tokens=3)
    assert (updated.content, updated.state, updated.answer_tokens, updated.role) == (
        "two, finished",
        "complete",
        3,
        "assistant",
    )
    assert store.conversation("alice", conversation.id).updated_at >= history[-1].created_at


def test_another_owner_sees_nothing(store: Store) -> None:
    mine = store.create_conversation("alice", title="secret")
    store.add_message("alice", mine.id, role="user", content="private words")
    assert store.list_conversations("bob") == []
    assert store.list_conversations("bob", search="private") == []
    for attempt in (
        lambda: store.conversation("bob", mine.id),
        lambda: store.messages("bob", mine.id),
        lambda: store.rename("bob", mine.id, "mine now"),
        lambda: store.delete_conversation("bob", mine.id),
        lambda: store.add_message("bob", mine.id, role="user", content="x"),
        lambda: store.update_message(10**9, content="x"),
        lambda: store.choose("bob", mine.id, 1),
        lambda: store.tree("bob", mine.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert [type(r) for r in store.begin_turns([("bob", mine.id, "x", None), ("bob", mine.id, "x", 1)])] == [
        NotFound
    ] * 2
    assert store.conversation("alice", mine.id).title == "secret"
    assert len(store.messages("alice", mine.id)) == 1


def test_turns_that_start_together_are_stored_in_one_transaction(store: Store) -> None:
    mine, other = store.create_conversation("alice"), store.create_conversation("alice")
    theirs = store.create_conversation("bob")
    commits: list[object] = []
    event.listen(store.database.sql, "commit", commits.append)
    turns: list[tuple[str, str, str, int | None]] = [
        ("alice", mine.id, "one", None),
        ("alice", theirs.id, "not mine", None),
        ("alice", other.id, "two", None),
    ]
    turns.append(("alice", mine.id, "three", None))
    first, refused, second, third = store.begin_turns(turns)
    assert len(commits) == 1
    assert isinstance(refused, NotFound)  # alone: the others are stored
    assert isinstance(first, list) and isinstance(second, list) and isinstance(third, list)
    assert [m.content for m in first] == ["one"] and [m.content for m in second] == ["two"]
    assert [m.content for m in third] == ["one", "three"]  # in order, each seeing those before it
    assert store.messages("bob", theirs.id) == []
    assert store.conversation("alice", other.id).title == "two"


def test_search_matches_titles_and_message_text_literally(store: Store) -> None:
    a = store.create_conversation("alice", title="Autumn poems")
    b = store.create_conversation("alice")
    store.add_message("alice", b.id, role="user", content="100% sure about x_1?")
    assert [c.id for c in store.list_conversations("alice", search="autumn")] == [a.id]
    assert [c.id for c in store.list_conversations("alice", search="100%")] == [b.id]
    assert store.list_conversations("alice", search="x%1") == []  # % is not a wildcard
    assert {c.id for c in store.list_conversations("alice")} == {a.id, b.id}


def test_deleting_a_conversation_deletes_its_messages(store: Store) -> None:
    conversation = store.create_conversation("alice")
    store.add_message("alice", conversation.id, role="user", content="hi")
    store.delete_conversation("alice", conversation.id)
    with store.database.sql.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 0


def test_an_answer_left_streaming_by_a_dead_process_is_kept_as_an_error(database_url: str) -> None:
    first = Store.open(database_url)
    conversation = first.create_conversation("alice")
    message = first.add_message(
        "alice", conversation.id, role="assistant", content="half an ans", state=MessageState.STREAMING
    )
    first.close()
    second = Store.open(database_url)  # the next start
    [kept] = second.messages("alice", conversation.id)
    second.close()
    assert kept.id == message.id
    assert kept.content == "half an ans"
    assert kept.state == MessageState.ERROR
    assert kept.error and "stopped while" in kept.error


def test_settings_from_before_the_thinking_budget_keep_their_values_with_no_cap(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0006")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO owner_settings (owner, temperature, top_p, max_tokens, math, show_reasoning, persona, "
                "language, updated_at) VALUES ('alice', 0.7, 0.9, 300, :no, :yes, 'p', 'zh', 0)"
            ),
            {"yes": True, "no": False},
        )
    migrate(engine)
    store = Store(Database(engine))
    saved = store.settings("alice")
    assert saved is not None
    assert Preferences.from_columns(saved) == Preferences(Sampling(0.7, 0.9, 300, persona="p"), language="zh")
    store.save_settings("alice", {"thinking_budget": 64}, defaults={})
    assert Preferences.from_columns(store.settings("alice") or {}).sampling.thinking_budget == 64
    migrate_to(engine, "0006", down=True)  # and back: the budget goes, the rest stays
    with engine.connect() as connection:
        assert "thinking_budget" not in {c["name"] for c in inspect(connection).get_columns("owner_settings")}
        assert connection.execute(text("SELECT max_tokens FROM owner_settings")).scalar() == 300
    engine.dispose()


def test_settings_are_saved_per_owner(store: Store) -> None:
    assert store.settings("alice") is None
    values = {
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": None,
        "math": True,
        "show_reasoning": False,
        "persona": "p",
        "thinking_budget": 512,
        "language": "zh",
    }
    assert store.save_settings("alice", values, defaults={}) == values
    assert store.settings("alice") == values
    store.save_settings("alice", {"temperature": 0.5}, defaults={})
    assert store.settings("alice") == values | {"temperature": 0.5}
    assert store.settings("bob") is None
    # A first save of some settings starts from the defaults; a language left out is "" (not chosen).
    assert store.save_settings("bob", {"math": False}, defaults=values) == values | {"math": False}
    unchosen = {name: value for name, value in values.items() if name != "language"}
    assert store.save_settings("carol", unchosen, defaults={}) == values | {"language": ""}


def test_answers_that_end_together_are_written_in_one_transaction(store: Store) -> None:
    conversation, gone = store.create_conversation("alice"), store.create_conversation("alice")
    checkpointed = store.add_message("alice", conversation.id, role="assistant", content="so f", state="streaming")
    store.delete_conversation("alice", gone.id)
    commits: list[object] = []
    event.listen(store.database.sql, "commit", commits.append)
    final = {"content": "so far, so good", "state": MessageState.COMPLETE, "answer_tokens": 5}
    rewritten, lost, new = store.save_answers(
        [("alice", conversation.id, checkpointed.id, final, (10, 5)), ("alice", gone.id, None, final, (3, 2)),
         ("alice", conversation.id, None, final | {"content": "another"}, None)]
    )  # fmt: skip
    assert len(commits) == 1  # the usage too: an answer and its tokens are written together
    [today] = store.usage.days("0000-00-00")
    # The lost answer's tokens count all the same: the engine spent them.
    assert (today.owner, today.prompt_tokens, today.completion_tokens, today.turns) == ("alice", 13, 7, 2)
    assert isinstance(lost, NotFound)  # its conversation was deleted meanwhile: alone
    assert isinstance(rewritten, MessageRecord) and isinstance(new, MessageRecord)
    assert (rewritten.id, rewritten.content, rewritten.state) == (checkpointed.id, "so far, so good", "complete")
    assert (new.role, new.content) == ("assistant", "another")
    assert store.messages("alice", conversation.id) == [rewritten, new]


# Titles and texts with what neither database keeps as it is: NUL (PostgreSQL refuses it), other
# control characters (a title is one line), lone surrogates (not UTF-8; JSON's \ud800 escape brings them).
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("a\x00b", "ab"),
        ("tab\there\r\nnew  line", "tab here new line"),
        ("bell\x07 escape\x1b[31m del\x7f c1\x85next\x9b", "bell escape[31m del c1 next"),
        ("  \x00 padded \x00 ", "padded"),
        ("half \ud83d pair \ud83d\ude00", "half \ufffd pair \U0001f600"),
        ("中文 标题", "中文 标题"),
    ],
)
def test_titles_are_one_line_of_text_on_every_path(store: Store, given: str, stored: str) -> None:
    created = store.create_conversation("alice", title=given)
    assert created.title == stored
    assert store.conversation("alice", created.id).title == stored
    renamed = store.create_conversation("alice")
    assert store.rename("alice", renamed.id, given).title == stored
    assert store.conversation("alice", renamed.id).title == stored
    titled = store.create_conversation("alice")
    store.add_message("alice", titled.id, role="user", content=given)
    assert store.conversation("alice", titled.id).title == stored
    # Imported: a title of its own, and one taken from the first user message.
    question = (MessageDraft("user", given),)
    for imported in store.add_conversations(
        "alice", [ConversationDraft(given, question), ConversationDraft("", question)]
    ):
        assert imported.title == stored
        assert store.conversation("alice", imported.id).title == stored


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("short question", "short question"),
        ("x" * 60, "x" * 60),  # fits whole
        (
            "Please explain in simple words why the sky looks blue during the day",
            "Please explain in simple words why the sky looks blue…",
        ),
        ("word " * 11 + "word and more", "word " * 11 + "word…"),  # the cut falls at a word's end
        ("word " * 11 + "wordy and more", "word " * 10 + "word…"),  # else at the last word's end before it
        ("Why, " * 20, "Why, " * 11 + "Why…"),  # no comma before the ellipsis
        ("a" * 40 + " " + "b" * 40, "a" * 40 + "…"),
        ("a" * 20 + " " + "b" * 60, "a" * 20 + " " + "b" * 38 + "…"),  # the last space is too early: a character cut
        ("请用简单的话解释为什么白天的天空是蓝色的" * 4, ("请用简单的话解释为什么白天的天空是蓝色的" * 4)[:59] + "…"),
    ],
)
def test_a_first_message_titles_its_chat_cut_at_a_word_with_an_ellipsis(store: Store, message: str, title: str) -> None:
    conversation = store.create_conversation("alice")
    store.add_message("alice", conversation.id, role="user", content=message)
    assert store.conversation("alice", conversation.id).title == title
    assert len(title) <= 60


def test_a_title_of_nothing_but_control_characters_is_refused(store: Store) -> None:
    conversation = store.create_conversation("alice", title="kept")
    with pytest.raises(InvalidInput, match="empty"):
        store.rename("alice", conversation.id, "\x00\x01 \t\x9f")
    assert store.conversation("alice", conversation.id).title == "kept"
    assert title_text("x" * 500) == "x" * 200 and title_text("a " * 150).endswith("a")


def test_nul_in_a_message_or_answer_is_left_out_and_surrogates_are_paired(store: Store) -> None:
    conversation = store.create_conversation("alice")
    asked = store.add_message("alice", conversation.id, role="user", content="a\x00b \ud83d\ude00")
    assert asked.content == "ab \U0001f600"
    [history] = store.begin_turns([("alice", conversation.id, "c\x00d", None)])
    assert isinstance(history, list) and history[-1].content == "cd"
    answer = store.add_message(
        "alice", conversation.id, role="assistant", content="x\x00", reasoning="\x00y", state=MessageState.STREAMING
    )
    assert (answer.content, answer.reasoning) == ("x", "y")
    updated = store.update_message(answer.id, content="done\x00", error="lone \udc00")
    assert (updated.content, updated.error) == ("done", "lone \ufffd")
    [saved] = store.save_answers([("alice", conversation.id, None, {"content": "e\x00f", "state": "complete"}, None)])
    assert isinstance(saved, MessageRecord) and saved.content == "ef"
    assert [m.content for m in store.messages("alice", conversation.id)] == ["ab \U0001f600", "cd", "done", "ef"]


def test_ids_search_terms_and_share_tokens_with_a_nul_find_nothing(store: Store) -> None:
    conversation = store.create_conversation("alice", title="findable")
    for attempt in (
        lambda: store.conversation("alice", conversation.id + "\x00"),
        lambda: store.messages("alice", "\x00"),
        lambda: store.rename("alice", "a\x00", "t"),
        lambda: store.add_message("alice", "a\x00", role="user", content="x"),
        lambda: store.shared("a" * 30 + "\x00"),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert store.list_conversations("alice", search="find\x00able") == []
    assert store.list_conversations("alice", search="\ud800abc") == []


def test_an_owner_may_keep_at_most_the_cap_of_conversations(store: Store) -> None:
    for _ in range(3):
        store.create_conversation("alice", most=3)
    with pytest.raises(Conflict, match="You have 3 conversations: the most one may keep.") as refused:
        store.create_conversation("alice", most=3)
    assert refused.value.hint and "Delete some" in refused.value.hint
    assert len(store.list_conversations("alice")) == 3
    store.create_conversation("bob", most=3)  # per owner
    store.delete_conversation("alice", store.list_conversations("alice")[0].id)
    store.create_conversation("alice", most=3)  # room again


def test_concurrent_creations_do_not_pass_the_cap(store: Store) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            store.create_conversation("alice", most=5)
            outcomes.append("made")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["made"] * 5 + ["refused"] * 3
    assert len(store.list_conversations("alice")) == 5


def test_sharing_again_after_the_link_expired_makes_a_new_link(store: Store) -> None:
    conversation = store.create_conversation("alice")
    store.add_message("alice", conversation.id, role="user", content="question")
    first = store.share("alice", conversation.id, expires_at=time.time() + 60)
    assert store.share("alice", conversation.id, expires_at=time.time() + 60).token == first.token  # still live
    with store.database.sql.begin() as connection:
        connection.execute(update(Share).where(Share.token == first.token).values(expires_at=time.time() - 1))
    again = store.share("alice", conversation.id, expires_at=None)
    assert again.token != first.token
    with pytest.raises(NotFound):
        store.shared(first.token)  # the expired link stays dead
    assert store.shared(again.token).messages[0]["content"] == "question"
    assert [s.token for s in store.shares("alice")] == [again.token]
