"""Feedback on answers over REST: set, changed, shown, deleted with its answer, and exported by admins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import (
    ADMIN_PASSWORD,
    CAROL,
    chat,
    migrate_to,
    new_conversation,
    running,
    settings_for,
    sign_in,
    sse_events,
)
from webapp.db.database import Database, create_sql_engine, migrate
from webapp.db.store import Store
from webapp.errors import NotFound


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("feedback")
    fake = FakeEngine([Reply(["think it over"], ["It is 4."])])
    with serve_fake(fake) as engine_url, running(settings_for(work, engine_url)) as app_url:
        yield app_url


def test_an_answer_is_rated_changed_shown_exported_and_gone_with_it(url: str) -> None:
    with sign_in(url, "carol", CAROL) as carol, sign_in(url, "admin", ADMIN_PASSWORD) as admin:
        conversation = new_conversation(carol)
        done = sse_events(chat(carol, conversation, content="2+2?"))[-1]["message"]
        path = f"/api/conversations/{conversation}/messages/{done['id']}/feedback"
        first = carol.put(path, json={"rating": "up", "note": "  clear  "})
        assert first.status_code == 200 and (first.json()["rating"], first.json()["note"]) == ("up", "clear")
        changed = carol.put(path, json={"rating": "down", "note": "wrong sum"}).json()
        listed = carol.get(f"/api/conversations/{conversation}/feedback").json()
        assert listed == [changed] and changed["rating"] == "down"
        # Only one's own answers, only answers, only the two ratings, a note of bounded size.
        question = f"/api/conversations/{conversation}/messages/{done['parent_id']}/feedback"
        assert carol.put(question, json={"rating": "up"}).status_code == 404
        assert admin.put(path, json={"rating": "up"}).status_code == 404
        assert carol.put(path, json={"rating": "meh"}).status_code == 422
        assert carol.put(path, json={"rating": "up", "note": "x" * 2001}).status_code == 422
        assert carol.get("/api/feedback.jsonl").status_code == 403
        export = admin.get("/api/feedback.jsonl")
        assert export.status_code == 200 and "feedback.jsonl" in export.headers["content-disposition"]
        [line] = [json.loads(line) for line in export.text.splitlines()]
        assert (line["prompt"], line["answer"], line["reasoning"]) == ("2+2?", "It is 4.", "think it over")
        assert (line["rating"], line["note"], line["user"], line["model"]) == ("down", "wrong sum", "carol", "fake-r1")
        assert line["time"] == changed["updated_at"] and line["message_id"] == done["id"]
        assert carol.delete(path).status_code == 204
        assert carol.get(f"/api/conversations/{conversation}/feedback").json() == []
        carol.put(path, json={"rating": "up"})
        assert carol.delete(f"/api/conversations/{conversation}").status_code == 204
        assert admin.get("/api/feedback.jsonl").text == ""  # gone with its answer


def test_a_history_from_before_usage_and_feedback_is_rated_after_the_upgrade(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0007")  # before the usage, quota, versions and feedback tables
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES ('c1', 'user:1', 't', 0, 0)"
            )
        )
        for role, content in (("user", "2+2?"), ("assistant", "4")):
            connection.execute(
                text(
                    "INSERT INTO messages (conversation_id, role, content, reasoning, state, math, created_at) "
                    "VALUES ('c1', :role, :content, '', 'complete', :no, 0)"
                ),
                {"role": role, "content": content, "no": False},
            )
    migrate(engine)
    store = Store(Database(engine))
    assert store.usage.days("0000-00-00") == [] and store.usage.quotas() == {}
    question, answer = store.messages("user:1", "c1")
    store.feedback.rate("user:1", "c1", answer.id, 1, "good")
    [rated] = store.feedback.ratings_after(0)
    assert (rated["prompt"], rated["answer"], rated["rating"], rated["note"]) == ("2+2?", "4", "up", "good")
    with pytest.raises(NotFound):
        store.feedback.rate("user:1", "c1", question.id, 1, "")
    migrate_to(engine, "0007", down=True)  # and back: the new tables go, the history stays
    with engine.connect() as connection:
        assert not {"usage", "quotas", "feedback"} & set(inspect(connection).get_table_names())
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 2
    engine.dispose()
