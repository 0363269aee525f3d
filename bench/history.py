"""The history at scale: list, search and open one conversation among many, for one owner.

The database is filled directly (SQLAlchemy core, bulk inserts) through the app's
own schema and migrations, then timed three ways: the Store's own calls, the same
calls on a copy without the app's indexes (the naive schema, as baseline), and the
REST API of the app process opened on that database (what a page or script waits
for). Search is a substring match over titles and message text: the Store serves it
through its FTS5 trigram index of message text (webapp/db/search.py), the copy without
indexes by reading every message. The terms are words of 3 to 9 letters; a term of 1
or 2 characters, which the index cannot serve, reads every message in the app too.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import insert

from bench.servers import SECRET_KEY, Upstream, app_server
from bench.stats import percentile
from webapp.auth.authenticator import OWNER_COOKIE
from webapp.auth.owner import new_owner, sign
from webapp.db.store import Store
from webapp.db.tables import Conversation, Message

OPERATIONS = ("list", "search", "open")
WAYS = ("store", "unindexed", "api")
VOCABULARY = 6000
CORPUS_WORDS = 400_000
INSERT_BATCH = 20_000


@dataclass
class History:
    conversations: int
    messages: int
    database_mb: float
    fill_seconds: float
    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # way -> operation -> seconds

    def quantile(self, way: str, operation: str, q: float) -> float:
        return percentile(self.times[way][operation], q)


def _words(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(VOCABULARY)]


def _corpus(rng: random.Random, words: list[str]) -> str:
    """Text with Zipf-like word frequencies; messages are slices of it."""
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return " ".join(rng.choices(words, weights, k=CORPUS_WORDS))


def _slice(rng: random.Random, corpus: str, low: int, high: int) -> str:
    size = rng.randint(low, high)
    start = rng.randrange(0, len(corpus) - size)
    return corpus[start : start + size]


def fill(
    path: Path, owner: str, conversations: int, per_conversation: int, seed: int = 0
) -> tuple[list[str], list[str]]:
    """A migrated SQLite history at `path`: the conversation ids, and the vocabulary used."""
    rng = random.Random(seed)
    words = _words(rng)
    corpus = _corpus(rng, words)
    store = Store.open(f"sqlite:///{path}")
    now = time.time() - conversations * 60
    ids = [f"{index:032x}" for index in range(conversations)]
    pending: list[dict[str, object]] = []
    with store.database.sql.begin() as connection:
        connection.execute(
            insert(Conversation),
            [
                {"id": cid, "owner": owner, "title": _slice(rng, corpus, 10, 60), "created_at": now + i * 60,
                 "updated_at": now + i * 60 + per_conversation}
                for i, cid in enumerate(ids)
            ],
        )  # fmt: skip
        next_id = 1
        for i, cid in enumerate(ids):
            for turn in range(per_conversation):
                user = turn % 2 == 0
                pending.append(
                    {
                        "id": next_id,
                        "parent_id": next_id - 1 if turn else None,  # one branch: each follows the one before
                        "conversation_id": cid,
                        "role": "user" if user else "assistant",
                        "content": _slice(rng, corpus, 20, 300) if user else _slice(rng, corpus, 200, 1500),
                        "reasoning": "" if user else _slice(rng, corpus, 300, 2000),
                        "state": "complete",
                        "math": False,
                        "created_at": now + i * 60 + turn,
                    }
                )
                next_id += 1
            if len(pending) >= INSERT_BATCH:
                connection.execute(insert(Message), pending)
                pending.clear()
        if pending:
            connection.execute(insert(Message), pending)
    with store.database.sql.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return ids, words


def _timed(call: Callable[[int], object], samples: int) -> list[float]:
    """Seconds of each of `samples` calls, the call given its index."""
    seconds = []
    for index in range(samples):
        started = time.perf_counter()
        call(index)
        seconds.append(time.perf_counter() - started)
    return seconds


def _search_terms(words: list[str]) -> list[str]:
    """Words from common to rare (a search for each is one sample)."""
    return [words[rank] for rank in (3, 30, 300, 1000, 3000, 5000)]


def time_store(store: Store, owner: str, ids: list[str], words: list[str], samples: int) -> dict[str, list[float]]:
    rng = random.Random(1)
    terms = _search_terms(words)
    store.list_conversations(owner)  # warm the page cache
    return {
        "list": _timed(lambda _: store.list_conversations(owner), samples),
        "search": _timed(lambda i: store.list_conversations(owner, search=terms[i % len(terms)]), samples),
        "open": _timed(lambda _: store.messages(owner, rng.choice(ids)), samples),
    }


def time_api(url: str, owner: str, ids: list[str], words: list[str], samples: int) -> dict[str, list[float]]:
    rng = random.Random(2)
    terms = _search_terms(words)
    cookies = {OWNER_COOKIE: sign(owner, SECRET_KEY.encode())}
    with httpx.Client(base_url=url, cookies=cookies, timeout=120) as http:

        def get(path: str, **params: str) -> None:
            http.get(path, params=params).raise_for_status()

        get("/api/conversations")
        return {
            "list": _timed(lambda _: get("/api/conversations"), samples),
            "search": _timed(lambda i: get("/api/conversations", search=terms[i % len(terms)]), samples),
            "open": _timed(lambda _: get(f"/api/conversations/{rng.choice(ids)}"), samples),
        }


@contextmanager
def _opened(path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{path}")
    try:
        yield store
    finally:
        store.close()


def measure(
    work: Path, logs: Path, upstream: Upstream, *, conversations: int, per_conversation: int, samples: int
) -> History:
    data = work / "history"
    data.mkdir(parents=True, exist_ok=True)
    path = data / "chat.db"  # where the app looks, with DATA_DIR=data
    owner = new_owner()
    started = time.perf_counter()
    ids, words = fill(path, owner, conversations, per_conversation)
    result = History(
        conversations, conversations * per_conversation, path.stat().st_size / 2**20, time.perf_counter() - started
    )
    print(
        f"  history: {result.conversations:,} conversations, {result.messages:,} messages, "
        f"{result.database_mb:.0f} MB, filled in {result.fill_seconds:.0f} s",
        flush=True,
    )
    with _opened(path) as store:
        result.times["store"] = time_store(store, owner, ids, words, samples)
    naive = work / "history-unindexed.db"
    shutil.copy(path, naive)
    with sqlite3.connect(naive) as db:
        db.execute("DROP INDEX ix_conversations_owner_updated")
        db.execute("DROP INDEX ix_messages_conversation")
        for trigger in ("messages_fts_insert", "messages_fts_delete", "messages_fts_update"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DROP TABLE messages_fts")  # without it, the Store's search reads every message
    with _opened(naive) as store:
        result.times["unindexed"] = time_store(store, owner, ids, words, samples)
    with app_server(upstream, logs, data, name="app-history", probe="/healthz") as app:
        result.times["api"] = time_api(app.url, owner, ids, words, samples)
    return result
