"""Who is asking, without accounts and with them: owners, sessions, tokens, admins, the share flag."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port, make_settings
from webapp.application import create_app, users_from
from webapp.auth.accounts import Accounts
from webapp.auth.authenticator import (
    OWNER_COOKIE,
    SESSION_COOKIE,
    SLOW_DOWN_MAX,
    Authenticator,
    request_cookies,
    slow_down,
)
from webapp.auth.owner import sign
from webapp.db.store import Store
from webapp.errors import RateLimited
from webapp.limits import Rate, RateLimiter

SECRET = b"k" * 32
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    accounts = Accounts(Store.open(f"sqlite:///{tmp_path / 'chat.db'}").database, session_ttl=0.5)
    accounts.create_user("alice", "alice-pass-1")
    return accounts


async def test_without_accounts_only_this_machine_is_admin(accounts: Accounts) -> None:
    auth = Authenticator(accounts, SECRET, required=False, login_limiter=None)
    cookies = {OWNER_COOKIE: sign("0" * 32, SECRET)}
    for local in (True, False):  # which requests are from this machine: tests/test_gate.py
        who = await auth.identify(cookies, None, local=local)
        assert who is not None and who.owner == "0" * 32 and who.name is None
        assert who.is_admin is local
    assert await auth.identify({OWNER_COOKIE: sign("0" * 32, b"other secret")}, None, local=True) is None


def test_cookies_are_read_like_a_browser_sends_them() -> None:
    owner = sign("0" * 32, SECRET)
    headers = [(b"accept", b"*/*"), (b"cookie", f"theme=dark; {OWNER_COOKIE}={owner}".encode())]
    assert request_cookies(headers) == {"theme": "dark", OWNER_COOKIE: owner}
    # Another site's malformed cookie on this host spoils only itself, not the owner cookie beside it.
    assert request_cookies([(b"cookie", f'odd"cookie; {OWNER_COOKIE}={owner}'.encode())])[OWNER_COOKIE] == owner
    # Two Cookie headers (HTTP/2 may split them) are read together.
    assert request_cookies([(b"cookie", b"a=1"), (b"cookie", f"{SESSION_COOKIE}=t".encode())]) == {
        "a": "1",
        SESSION_COOKIE: "t",
    }
    assert request_cookies([(b"cookie", b"")]) == {}


async def test_with_accounts_an_owner_cookie_is_not_enough(accounts: Accounts) -> None:
    auth = Authenticator(accounts, SECRET, required=True, login_limiter=None)
    assert await auth.identify({OWNER_COOKIE: sign("0" * 32, SECRET)}, None, local=True) is None
    who = accounts.authenticate("alice", "alice-pass-1")
    assert who is not None
    assert await auth.identify({SESSION_COOKIE: accounts.start_session(who)}, None, local=False) == who


async def test_a_cached_session_never_outlives_its_expiry(accounts: Accounts) -> None:
    auth = Authenticator(accounts, SECRET, required=True, login_limiter=None)
    who = accounts.authenticate("alice", "alice-pass-1")
    assert who is not None
    cookies = {SESSION_COOKIE: accounts.start_session(who)}
    assert await auth.identify(cookies, None, local=False) == who
    await asyncio.sleep(0.6)  # the point: the session (TTL 0.5 s) expires while it is cached
    assert await auth.identify(cookies, None, local=False) is None


async def test_a_bad_token_is_refused_even_without_accounts(accounts: Accounts) -> None:
    auth = Authenticator(accounts, SECRET, required=False, login_limiter=None)
    owner = {OWNER_COOKIE: sign("0" * 32, SECRET)}
    for header in ("Bearer nope", "Bearer ", "Basic YTpi", "token"):
        assert await auth.identify(owner, header, local=True) is None
    who = accounts.authenticate("alice", "alice-pass-1")
    assert who is not None
    token = accounts.create_token(who, "t")["token"]
    assert await auth.identify({}, f"Bearer {token}", local=False) == who


async def test_wrong_passwords_from_many_addresses_do_not_lock_the_owner_out(accounts: Accounts) -> None:
    auth = Authenticator(accounts, SECRET, required=True, login_limiter=RateLimiter(Rate(3, 60)))
    guesses = [auth.sign_in("alice", f"guess-{n}", f"10.0.{n}.1") for n in range(20) for _ in range(3)]
    assert await asyncio.gather(*guesses) == [None] * 60  # each address's 3 attempts, all at once
    started = time.monotonic()
    who = await auth.sign_in("alice", "alice-pass-1", "192.168.1.7")  # alice, at home
    assert who is not None and who.name == "alice"
    assert time.monotonic() - started >= SLOW_DOWN_MAX  # slowed down, not refused


async def test_one_address_hammering_is_refused(accounts: Accounts) -> None:
    auth = Authenticator(accounts, SECRET, required=True, login_limiter=RateLimiter(Rate(3, 60)))
    for _ in range(3):
        assert await auth.sign_in("alice", "wrong", "10.0.0.1") is None
    with pytest.raises(RateLimited) as refused:
        await auth.sign_in("alice", "alice-pass-1", "10.0.0.1")  # even the right one, from there
    assert 1 <= refused.value.retry_after <= 61
    with pytest.raises(RateLimited):
        await auth.sign_in("bob", "whatever", "10.0.0.1")  # another name, same address
    assert await auth.sign_in("alice", "alice-pass-1", "10.0.0.2") is not None


@pytest.mark.parametrize(
    ("failures", "delay"), [(0, 0.0), (9, 0.0), (10, 0.25), (11, 0.5), (13, 2.0), (14, 4.0), (15, 4.0), (10**6, 4.0)]
)
def test_a_names_failures_slow_its_sign_in_down_up_to_a_few_seconds(failures: int, delay: float) -> None:
    assert slow_down(failures, free=10) == delay


async def test_without_accounts_a_remote_visitor_gets_no_admin_pages(tmp_path: Path) -> None:
    settings = make_settings(vllm_base_url="http://127.0.0.1:9/v1", data_dir=tmp_path, port=free_port())
    app = create_app(settings)
    for client, status in [(("10.0.0.5", 4000), 403), (("127.0.0.1", 4000), 404)]:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            response = await http.get("/api/engine/log")  # 404 for this machine: no log was written
            assert response.status_code == status, client


def test_users_come_from_the_file_and_the_admin_password(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("alice:alice-pass-1\nadmin:old-admin-pass\n")
    settings = make_settings(users_file=users, admin_password="new-admin-pass", data_dir=tmp_path)
    specs = users_from(settings)
    assert [(u.name, u.password, u.is_admin) for u in specs] == [
        ("alice", "alice-pass-1", False),
        ("admin", "new-admin-pass", True),
    ]
    users.write_text("broken line\n")
    with pytest.raises(SystemExit, match="line 1"):
        users_from(settings)
    with pytest.raises(SystemExit, match="USERS_FILE"):
        users_from(make_settings(users_file=tmp_path / "missing.txt"))


def run_app(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_share_refuses_to_start_without_accounts(tmp_path: Path) -> None:
    code, output, _ = run_app("--share", "--data-dir", str(tmp_path))
    assert code == 1
    assert "--share makes the app public: set ADMIN_PASSWORD or USERS_FILE" in output
    assert "--allow-anonymous" in output


def test_share_without_internet_stops_at_once_saying_what_to_do(tmp_path: Path) -> None:
    # This machine reaches no share server: the real failure, not a simulated one.
    code, output, seconds = run_app("--share", "--allow-anonymous", "--data-dir", str(tmp_path))
    assert code == 1
    assert "--share needs the internet" in output and "api.gradio.app" in output
    assert "APP_HOST=0.0.0.0" in output and "GRADIO_SHARE_SERVER_ADDRESS" in output
    assert seconds < 30  # import time plus a 5 s check, never a hang


def test_share_through_an_unreachable_own_share_server_stops_at_once(tmp_path: Path) -> None:
    env = os.environ | {"GRADIO_SHARE_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "ADMIN_PASSWORD": "pw-123456"}
    code, output, _ = run_app("--share", "--data-dir", str(tmp_path), env=env)
    assert code == 1 and "the share server 127.0.0.1:" in output and "cannot be reached" in output


async def test_sessions_and_tokens_are_looked_up_off_the_event_loop(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's identity may need the database: that work runs in a worker thread, never on the loop."""
    auth = Authenticator(accounts, SECRET, required=True, login_limiter=None)
    who = accounts.authenticate("alice", "alice-pass-1")
    assert who is not None
    session, token = accounts.start_session(who), accounts.create_token(who, "t")["token"]
    loop_thread, threads = threading.get_ident(), []
    for name in ("session", "token_identity"):
        looked_up = getattr(accounts, name)

        def probe(*args: object, _looked_up: Any = looked_up) -> Any:
            threads.append(threading.get_ident())
            return _looked_up(*args)

        monkeypatch.setattr(accounts, name, probe)
    assert await auth.identify({SESSION_COOKIE: session}, None, local=False) == who
    assert await auth.identify({}, f"Bearer {token}", local=False) == who
    assert len(threads) == 2 and loop_thread not in threads
    assert await auth.identify({SESSION_COOKIE: session}, None, local=False) == who  # cached: no lookup
    assert len(threads) == 2
