"""Two replicas of the app on one database (PostgreSQL with TEST_DATABASE_URL, else one SQLite file):
started at once on an empty database, they share history, accounts, sessions and share links.

Their engine is a fake that answers at once: what is under test here is the database between them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import (
    ADMIN_PASSWORD,
    USERS,
    chat,
    free_port,
    make_settings,
    new_conversation,
    new_database_url,
    serve,
    sign_in,
    sse_events,
)
from webapp.application import create_app
from webapp.auth.authenticator import SESSION_COOKIE

ANSWER = Reply(reasoning=["Both ", "replicas."], content=["One ", "database."])


@dataclass
class Replicas:
    """Two apps on one database, and which of them failed to start on the first try."""

    first: str
    second: str
    failed_to_start: list[int]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Two apps started at the same moment on one new, empty database."""
    work = tmp_path_factory.mktemp("replicas")
    users_file = work / "users.txt"
    users_file.write_text("".join(f"{name}:{password}\n" for name, password in USERS.items()))
    database_url = new_database_url(work)
    with serve_fake(FakeEngine(replies=[ANSWER])) as engine_url, ExitStack() as running:
        settings = [
            make_settings(
                vllm_base_url=engine_url,
                database_url=database_url,
                secret_key="one secret for every replica",
                admin_password=ADMIN_PASSWORD,
                users_file=users_file,
                login_rate="1000/minute",
                chat_rate_per_user="1000/minute",
                chat_rate_per_ip="1000/minute",
                data_dir=work / name,
                host="127.0.0.1",
                port=free_port(),
            )
            for name in ("one", "two")
        ]
        # Both lifespans (migrations, configured users) run at once, as when an orchestrator starts replicas.
        servers = [serve(create_app(s), s.port) for s in settings]
        with ThreadPoolExecutor(len(servers)) as pool:
            starting = [pool.submit(server.__enter__) for server in servers]
        urls, failed = [], []
        for i, (server, start) in enumerate(zip(servers, starting, strict=True)):
            if start.exception() is None:
                running.push(server.__exit__)
                urls.append(start.result())
            else:  # restarted, as an orchestrator restarts a replica that exits while starting
                failed.append(i)
                urls.append(running.enter_context(serve(create_app(settings[i]), settings[i].port)))
        with httpx.Client() as http:
            deadline = time.monotonic() + 30
            while not all(http.get(f"{url}/readyz").status_code == 200 for url in urls):
                assert time.monotonic() < deadline, "the replicas never found the fake engine ready"
                time.sleep(0.1)
        yield Replicas(urls[0], urls[1], failed)


def test_replicas_started_at_once_on_an_empty_database_both_start(replicas: Replicas) -> None:
    assert replicas.failed_to_start == []


@pytest.fixture
def one(replicas: Replicas) -> Iterator[httpx.Client]:
    """Alice, signed in on the first replica."""
    with sign_in(replicas.first, "alice", USERS["alice"]) as client:
        yield client


@pytest.fixture
def two(replicas: Replicas) -> Iterator[httpx.Client]:
    """Alice, signed in again on the second replica."""
    with sign_in(replicas.second, "alice", USERS["alice"]) as client:
        yield client


def test_a_chat_on_one_replica_is_listed_and_read_on_the_other(one: httpx.Client, two: httpx.Client) -> None:
    conversation_id = new_conversation(one)
    response = chat(one, conversation_id, content="Which replica answers?")
    assert response.status_code == 200
    assert sse_events(response)[-1]["type"] == "done"
    assert conversation_id in [c["id"] for c in two.get("/api/conversations").json()]
    assert [c["id"] for c in two.get("/api/conversations", params={"search": "which replica"}).json()] == [
        conversation_id
    ]
    read = two.get(f"/api/conversations/{conversation_id}")
    assert read.status_code == 200
    messages = read.json()["messages"]
    assert [(m["role"], m["content"], m["reasoning"], m["state"]) for m in messages] == [
        ("user", "Which replica answers?", "", "complete"),
        ("assistant", "One database.", "Both replicas.", "complete"),
    ]
    # and the other way round: a second turn through the second replica continues the same conversation
    assert chat(two, conversation_id, content="And now?").status_code == 200
    assert len(one.get(f"/api/conversations/{conversation_id}").json()["messages"]) == 4


def test_a_session_made_on_one_replica_works_on_the_other_until_signed_out(replicas: Replicas) -> None:
    first, second = replicas.first, replicas.second
    with sign_in(first, "bob", USERS["bob"]) as bob:
        session = bob.cookies[SESSION_COOKIE]
        conversation_id = new_conversation(bob)
    with httpx.Client(base_url=second, cookies={SESSION_COOKIE: session}) as elsewhere:
        assert elsewhere.get("/api/me").json() == {"name": "bob", "is_admin": False, "accounts": True}
        assert [c["id"] for c in elsewhere.get("/api/conversations").json()] == [conversation_id]
        assert elsewhere.post("/logout").status_code == 303
    with httpx.Client(base_url=second, cookies={SESSION_COOKIE: session}) as replay:
        assert replay.get("/api/me").status_code == 401  # ended where it was ended, at once
    # The first replica may have the session cached for up to 5 s: then it is over there too.
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=first, cookies={SESSION_COOKIE: session}) as replay:
        while replay.get("/api/me").status_code != 401:
            assert time.monotonic() < deadline, "the first replica still accepts a session ended on the second"
            time.sleep(0.25)


def test_a_share_link_made_on_one_replica_opens_on_the_other(
    one: httpx.Client, two: httpx.Client, replicas: Replicas
) -> None:
    conversation_id = new_conversation(one)
    assert chat(one, conversation_id, content="Shared across replicas").status_code == 200
    made = one.post(f"/api/conversations/{conversation_id}/share")
    assert made.status_code == 201
    link = made.json()["url"]
    with httpx.Client(base_url=replicas.second) as stranger:  # not signed in
        page = stranger.get(link)
        assert page.status_code == 200 and "Shared across replicas" in page.text and "One database." in page.text
        assert link in [s["url"] for s in two.get("/api/shares").json()]
        assert two.delete(f"/api/conversations/{conversation_id}/share").status_code == 204
    with httpx.Client(base_url=replicas.first) as stranger:
        assert stranger.get(link).status_code == 404  # revoked on the second, gone on the first


def test_a_conversation_deleted_on_one_replica_is_gone_on_the_other(one: httpx.Client, two: httpx.Client) -> None:
    conversation_id = new_conversation(one)
    assert chat(one, conversation_id, content="Soon gone").status_code == 200
    assert two.delete(f"/api/conversations/{conversation_id}").status_code == 204
    assert conversation_id not in [c["id"] for c in one.get("/api/conversations").json()]
    assert one.get(f"/api/conversations/{conversation_id}").status_code == 404
    assert chat(one, conversation_id, content="Still there?").status_code == 404


def test_the_replicas_made_the_configured_users_once(replicas: Replicas) -> None:
    with sign_in(replicas.second, "admin", ADMIN_PASSWORD) as admin:
        names = [u["name"] for u in admin.get("/api/users").json()]
    assert sorted(names) == sorted([*USERS, "admin"])
