"""Temporary chats: answered like any other turn, with nothing of them written to the database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import free_port, make_settings, running, sse_events

SECRET = "zebra-umbrella-42"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[str, Path, FakeEngine]]:
    """An app without accounts on a fake engine, its history in a SQLite file (inspected below)."""
    fake = FakeEngine([Reply(["mull"], [f"{SECRET} indeed"])])
    database = tmp_path / "chat.db"
    with serve_fake(fake) as engine_url:
        settings = make_settings(
            vllm_base_url=engine_url, port=free_port(), data_dir=tmp_path, database_url=f"sqlite:///{database}"
        )
        with running(settings) as url:
            yield url, database, fake


def temporary(http: httpx.Client, content: str, history: list[dict[str, str]] | None = None) -> httpx.Response:
    return http.post("/api/temporary/messages", json={"content": content, "history": history or []})


def test_a_temporary_chat_is_answered_and_writes_no_row_nor_word(app: tuple[str, Path, FakeEngine]) -> None:
    url, database, fake = app
    with httpx.Client(base_url=url, timeout=30) as http:
        first = sse_events(temporary(http, f"tell me {SECRET}"))
        done = first[-1]
        assert done["type"] == "done" and done["message"]["id"] == 0
        assert done["message"]["content"] == f"{SECRET} indeed" and done["message"]["reasoning"] == "mull"
        earlier = [{"role": "user", "content": f"tell me {SECRET}"}, {"role": "assistant", "content": "yes"}]
        assert sse_events(temporary(http, "and again", earlier))[-1]["type"] == "done"
        # The model saw the history the client kept, by R1's rules as any chat.
        assert fake.requests[-1]["messages"] == [*earlier, {"role": "user", "content": "and again"}]
        assert http.get("/api/conversations").json() == []
        usage = http.get("/api/usage").json()["owners"]
        assert [u["turns"] for u in usage] == [2]  # the tokens count all the same: quotas hold
        bad = temporary(http, "x", [{"role": "system", "content": "be"}])
        assert bad.status_code == 422
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM conversations").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    files = [p for p in database.parent.iterdir() if p.name.startswith("chat.db")]
    assert database in files
    for path in files:  # the database, its write-ahead log and shared memory: not a word of the chat
        assert SECRET.encode() not in path.read_bytes(), path.name


def test_a_temporary_chat_counts_against_the_quota(tmp_path: Path) -> None:
    with serve_fake(FakeEngine()) as engine_url:
        settings = make_settings(vllm_base_url=engine_url, port=free_port(), data_dir=tmp_path, daily_tokens_per_user=1)
        with running(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert sse_events(temporary(http, "one"))[-1]["type"] == "done"
            refused = temporary(http, "two")
            assert refused.status_code == 429 and refused.json()["error"]["kind"] == "insufficient_quota"
