"""Access control over HTTP: sign-in, sessions, API tokens, admins, per-user history, share links, limits.

The apps here use the session's real vLLM server as their engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ADMIN_PASSWORD, USERS, LiveApp, app_beside, chat, new_conversation, sign_in, sse_events
from webapp.engine.tiny_model import SCRIPT_ANSWER, SCRIPT_REASONING


@pytest.fixture(scope="module")
def url(live_app: LiveApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with app_beside(live_app, tmp_path_factory.mktemp("accounts")) as app_url:
        yield app_url


@pytest.fixture
def alice(url: str) -> Iterator[httpx.Client]:
    with sign_in(url, "alice", USERS["alice"]) as client:
        yield client


@pytest.fixture
def bob(url: str) -> Iterator[httpx.Client]:
    with sign_in(url, "bob", USERS["bob"]) as client:
        yield client


@pytest.fixture
def admin(url: str) -> Iterator[httpx.Client]:
    with sign_in(url, "admin", ADMIN_PASSWORD) as client:
        yield client


@pytest.fixture
def stranger(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_without_signing_in_pages_lead_to_the_login_and_the_api_says_401(stranger: httpx.Client) -> None:
    page = stranger.get("/?x=1", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/%3Fx%3D1"
    for path in ("/api/conversations", "/api/me", "/gradio_api/info", "/config", "/api/shares"):
        response = stranger.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["kind"] == "unauthorized"
    assert stranger.post("/gradio_api/queue/join", json={}).status_code == 401
    assert stranger.get("/healthz").status_code == 200
    assert stranger.get("/readyz").status_code == 200
    login = stranger.get("/login")
    assert login.status_code == 200 and '<form class="login" method="post" action="/login">' in login.text
    assert "default-src 'none'" in login.headers["content-security-policy"]
    assert "r1chat_owner" not in login.headers.get("set-cookie", "")  # no anonymous owners with accounts on


def test_signing_in_sets_a_private_session_cookie_and_signing_out_ends_it(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        wrong = client.post("/login", data={"name": "alice", "password": "nope", "next": "/"})
        assert wrong.status_code == 401 and "Wrong user name or password." in wrong.text
        unknown = client.post("/login", data={"name": "mallory", "password": "nope"})
        assert unknown.status_code == 401 and "Wrong user name or password." in unknown.text  # same answer
        right = client.post("/login", data={"name": "alice", "password": USERS["alice"], "next": "//evil.example"})
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"]
        assert cookie.startswith("r1chat_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert client.get("/api/me").json() == {"name": "alice", "is_admin": False, "accounts": True}
        assert client.get("/", headers={"Accept": "text/html"}).status_code == 200  # the chat page
        session = client.cookies["r1chat_session"]
        out = client.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
    with httpx.Client(base_url=url, cookies={"r1chat_session": session}) as replay:
        assert replay.get("/api/me").status_code == 401  # the old cookie is dead on the server too


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "alice", "password": USERS["alice"]}, 200),
        ({"name": "alice", "password": "wrong-one"}, 401),
        ({"name": "alice"}, 422),
        ({"name": 5, "password": []}, 422),
        ({"name": "x" * 65, "password": "p"}, 422),
        ([1, 2], 422),
    ],
)
def test_scripts_can_sign_in_with_json(stranger: httpx.Client, body: object, status: int) -> None:
    response = stranger.post("/login", json=body)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == {"name": "alice", "is_admin": False}
    else:
        assert response.json()["error"]["message"]


def test_invalid_json_at_sign_in_is_a_400(stranger: httpx.Client) -> None:
    response = stranger.post("/login", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]


def test_api_tokens_let_scripts_in_until_revoked(alice: httpx.Client, url: str) -> None:
    conversation_id = new_conversation(alice)
    made = alice.post("/api/tokens", json={"name": "script"})
    assert made.status_code == 201
    token = made.json()["token"]
    assert [t["name"] for t in alice.get("/api/tokens").json()].count("script") >= 1
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as script:
        assert conversation_id in [c["id"] for c in script.get("/api/conversations").json()]
        assert script.get("/api/me").json()["name"] == "alice"
        assert alice.delete(f"/api/tokens/{made.json()['id']}").status_code == 204
        refused = script.get("/api/conversations")
        assert refused.status_code == 401 and "not valid" in refused.json()["error"]["message"]
    for header in ("Bearer", "Basic abc", "Bearer r1c_made_up"):
        with httpx.Client(base_url=url, headers={"Authorization": header}) as bad:
            assert bad.get("/api/conversations").status_code == 401


def test_a_user_cannot_reach_anothers_conversations(alice: httpx.Client, bob: httpx.Client) -> None:
    conversation_id = new_conversation(alice)
    assert chat(alice, conversation_id, content="alice's question").status_code == 200
    assert alice.post(f"/api/conversations/{conversation_id}/share").status_code == 201
    path = f"/api/conversations/{conversation_id}"
    assert conversation_id not in [c["id"] for c in bob.get("/api/conversations").json()]
    assert bob.get("/api/conversations", params={"search": "alice"}).json() == []
    attempts = [
        bob.get(path),
        bob.get(f"{path}/export"),
        bob.get(f"{path}/export", params={"format": "json"}),
        bob.patch(path, json={"title": "mine now"}),
        bob.post(f"{path}/messages", json={"content": "hi"}),
        bob.post(f"{path}/share"),
        bob.delete(f"{path}/share"),
        bob.delete(path),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all(r.json()["error"]["kind"] == "not_found" for r in attempts)
    assert bob.get("/api/shares").json() == []
    mine = alice.get(path).json()  # untouched
    assert mine["title"] == "alice's question" and len(mine["messages"]) == 2


def test_admin_pages_and_controls_are_for_admins_only(bob: httpx.Client, admin: httpx.Client) -> None:
    refused = [
        bob.get("/api/status"),
        bob.get("/api/engine/log"),
        bob.get("/api/engine/log/tail"),
        bob.get("/api/users"),
        bob.post("/api/users", json={"name": "eve", "password": "eve-pass-1"}),
        bob.delete("/api/users/alice"),
        bob.put("/api/users/alice/password", json={"password": "taken-over"}),
        bob.post("/api/engine/restart"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert refused[0].json()["error"] == {"kind": "forbidden", "message": "Only an admin may do this.", "hint": None}
    assert admin.get("/api/status").json()["engine"]["state"] == "external"
    assert admin.get("/api/engine/log/tail").status_code == 200
    assert {"admin", "alice", "bob"} <= {u["name"] for u in admin.get("/api/users").json()}


def test_an_admin_manages_users(admin: httpx.Client, url: str) -> None:
    made = admin.post("/api/users", json={"name": "dave", "password": "dave-pass-1"})
    assert made.status_code == 201 and made.json()["name"] == "dave"
    assert admin.post("/api/users", json={"name": "dave", "password": "dave-pass-1"}).status_code == 409
    assert admin.post("/api/users", json={"name": "bad name", "password": "dave-pass-1"}).status_code == 422
    assert admin.post("/api/users", json={"name": "erin", "password": "short"}).status_code == 422
    assert admin.post("/api/users", json={"name": "erin"}).status_code == 422
    with sign_in(url, "dave", "dave-pass-1") as dave:
        assert dave.get("/api/me").json()["name"] == "dave"
        assert admin.put("/api/users/dave/password", json={"password": "dave-pass-2"}).status_code == 204
        assert dave.get("/api/me").status_code == 401  # a new password signs out everywhere
    with sign_in(url, "dave", "dave-pass-2") as dave:
        assert admin.delete("/api/users/dave").status_code == 204
        assert dave.get("/api/me").status_code == 401
    assert admin.delete("/api/users/dave").status_code == 404
    assert admin.delete("/api/users/admin").status_code == 422  # not yourself


def test_a_share_link_lives_until_revoked(alice: httpx.Client, stranger: httpx.Client) -> None:
    conversation_id = new_conversation(alice)
    assert chat(alice, conversation_id, content="What is 6*7?").status_code == 200
    made = alice.post(f"/api/conversations/{conversation_id}/share", json={"expires_in_days": 7})
    assert made.status_code == 201
    link = made.json()["url"]
    assert link.startswith("/s/") and len(link) >= 3 + 43  # at least 256 random bits, base64url
    assert made.json()["expires_at"] == pytest.approx(time.time() + 7 * 86400, abs=60)
    assert link in [s["url"] for s in alice.get("/api/shares").json()]
    page = stranger.get(link)  # no sign-in needed
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-robots-tag"] == "noindex, nofollow" and page.headers["referrer-policy"] == "no-referrer"
    assert "What is 6*7?" in page.text and SCRIPT_ANSWER.split()[0] in page.text
    assert "<details><summary>Thought</summary>" in page.text and SCRIPT_REASONING.split()[0] in page.text
    assert "/api/" not in page.text and "<a " not in page.text  # nothing else is reachable from it
    assert alice.delete(f"/api/conversations/{conversation_id}/share").status_code == 204
    gone = stranger.get(link)
    assert gone.status_code == 404 and "revoked" in gone.text
    assert alice.delete(f"/api/conversations/{conversation_id}/share").status_code == 404


@pytest.mark.parametrize("body", [{"expires_in_days": 0}, {"expires_in_days": "7"}, {"expires_in_days": 366}, {"x": 1}])
def test_a_bad_share_request_is_a_422(alice: httpx.Client, body: dict[str, object]) -> None:
    conversation_id = new_conversation(alice)
    response = alice.post(f"/api/conversations/{conversation_id}/share", json=body)
    assert response.status_code == 422 and response.json()["error"]["kind"] == "invalid_input"


def test_unknown_share_links_are_404(stranger: httpx.Client) -> None:
    for token in ("x", "A" * 43, "..%2F..%2Fapi%2Fusers", "%3Cscript%3E"):
        assert stranger.get(f"/s/{token}").status_code == 404


def test_an_expired_session_must_sign_in_again(live_app: LiveApp, tmp_path: Path) -> None:
    with app_beside(live_app, tmp_path, session_ttl=1.5) as app_url, sign_in(app_url, "alice", USERS["alice"]) as c:
        assert c.get("/api/me").status_code == 200
        time.sleep(2)  # the point: the session outlives its 1.5 s TTL
        expired = c.get("/api/me")
        assert expired.status_code == 401
        assert c.get("/", headers={"Accept": "text/html"}).headers["location"].startswith("/login")


def test_sign_in_attempts_are_limited_per_name_and_address(live_app: LiveApp, tmp_path: Path) -> None:
    with app_beside(live_app, tmp_path, login_rate="3/minute") as app_url, httpx.Client(base_url=app_url) as c:
        statuses = [c.post("/login", data={"name": "alice", "password": "guess"}).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        limited = c.post("/login", data={"name": "alice", "password": USERS["alice"]})  # even the right one
        assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        as_json = c.post("/login", json={"name": "bob", "password": USERS["bob"]})  # same address
        assert as_json.status_code == 429 and as_json.json()["error"]["kind"] == "rate_limited"


def test_chat_is_rate_limited_per_user_and_per_address(live_app: LiveApp, tmp_path: Path) -> None:
    limits = {"chat_rate_per_user": "2/minute", "chat_rate_per_ip": "3/minute"}
    with (
        app_beside(live_app, tmp_path, **limits) as app_url,
        sign_in(app_url, "alice", USERS["alice"]) as alice,
        sign_in(app_url, "bob", USERS["bob"]) as bob,
    ):
        conversation_id = new_conversation(alice)
        for _ in range(2):
            assert sse_events(chat(alice, conversation_id, content="hi", max_tokens=8))[-1]["type"] == "done"
        refused = chat(alice, conversation_id, content="one more")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["message"] == "Too many messages: you may send 2 per minute."
        assert "one more" not in str(alice.get(f"/api/conversations/{conversation_id}").json())
        bobs = new_conversation(bob)
        assert chat(bob, bobs, content="hi", max_tokens=8).status_code == 200  # the address's third
        by_address = chat(bob, bobs, content="again")
        assert by_address.status_code == 429
        assert "your network address may send 3 per minute" in by_address.json()["error"]["message"]


def test_a_message_over_the_size_limit_is_a_413(live_app: LiveApp, tmp_path: Path) -> None:
    with app_beside(live_app, tmp_path, max_message_chars=100) as app_url, sign_in(app_url, "bob", USERS["bob"]) as c:
        conversation_id = new_conversation(c)
        response = chat(c, conversation_id, content="x" * 101)
        assert response.status_code == 413
        assert response.json()["error"]["message"] == "The message has 101 characters; the limit is 100."
