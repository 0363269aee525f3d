"""What the tests share that is not a fixture: settings, test databases, serving and launching the app,
signing in, the REST API's chat calls, polling until a condition holds.

Fixtures are in conftest.py. Test modules import these from here, never from one another.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import Engine as DatabaseEngine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from tests.fakes import FakeEngine, serve_fake
from webapp.application import create_app
from webapp.chat.events import ChatEvent
from webapp.chat.service import ChatService
from webapp.db.database import MIGRATIONS
from webapp.db.store import Store
from webapp.engine import preflight
from webapp.engine.supervisor import Engine
from webapp.llm.client import ModelClient
from webapp.settings import Settings

T = TypeVar("T")

ENGINE_READY_TIMEOUT = 300.0
SERVED_NAME = "tiny-r1"
MAX_MODEL_LEN = 512
ADMIN_PASSWORD = "admin-pass-1"
USERS = {"alice": "alice-pass-1", "bob": "bob-pass-12"}
CAROL = "carol-pass-1"  # carol comes from the users file of `settings_for`


def make_settings(**values: Any) -> Settings:
    """Settings from these values and the defaults only: no `.env` file, no surprise.

    An app given a `data_dir` of its own keeps its history there in SQLite, or, when the run has
    TEST_DATABASE_URL, in a new PostgreSQL database of its own on that server.
    """
    if "data_dir" in values and "database_url" not in values and postgres_server() is not None:
        values["database_url"] = new_database_url(Path(values["data_dir"]))
    return Settings(_env_file=None, **values)


# -- databases: SQLite files, or PostgreSQL databases on TEST_DATABASE_URL's server -------------


def postgres_server() -> URL | None:
    """The PostgreSQL server named by TEST_DATABASE_URL (`make test-postgres`), or None: SQLite files."""
    value = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not value:
        return None
    url = make_url(value)
    if url.get_backend_name() == "sqlite":
        return None
    if url.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"TEST_DATABASE_URL must be a postgresql+psycopg:// URL, not {url.drivername}")
    return url


def on_postgres() -> bool:
    return postgres_server() is not None


made_databases: list[str] = []  # dropped at the end of the session (conftest's `_drop_test_databases`)


def _server_sql(statement: str) -> None:
    server = postgres_server()
    assert server is not None
    engine = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def new_database_url(directory: Path) -> str:
    """The URL of a new, empty database: `chat.db` in `directory`, or a new database on the PostgreSQL server."""
    server = postgres_server()
    if server is None:
        return f"sqlite:///{directory / 'chat.db'}"
    name = f"r1chat_test_{secrets.token_hex(6)}"
    _server_sql(f'CREATE DATABASE "{name}"')
    made_databases.append(name)
    return server.set(database=name).render_as_string(hide_password=False)


def drop_made_database(name: str) -> None:
    made_databases.remove(name)
    try:
        _server_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except DBAPIError as error:  # a server's own process inside it (autovacuum) is not ours to end
        warnings.warn(f"test database {name} is left on the server: {error.orig}", stacklevel=2)


def drop_database(url: str) -> None:
    """Drop a database `new_database_url` made, cutting whoever is still connected (a SQLite file stays)."""
    name = make_url(url).database
    if name in made_databases:
        drop_made_database(name)


def assert_index_in_step(store: Store) -> None:
    """SQLite: the FTS5 index holds exactly the text of the messages there are (rank 1: compare with them)."""
    if store.database.backend == "sqlite":
        with store.database.sql.begin() as connection:
            connection.exec_driver_sql("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


def old_conversation(store: Store, owner: str, *messages: tuple[str, str]) -> str:
    """A new conversation with its (role, content) messages, written with only the columns every
    schema has had (a store on an older schema than its models' cannot write them); its id."""
    conversation_id = secrets.token_hex(16)
    with store.database.sql.begin() as connection:
        connection.execute(
            text("INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES (:id, :owner, '', 0, 0)"),
            {"id": conversation_id, "owner": owner},
        )
        for role, content in messages:
            connection.execute(
                text(
                    "INSERT INTO messages (conversation_id, role, content, reasoning, state, math, created_at) "
                    "VALUES (:id, :role, :content, '', 'complete', :no, 0)"
                ),
                {"id": conversation_id, "role": role, "content": content, "no": False},
            )
    return conversation_id


def migrate_to(engine: DatabaseEngine, revision: str, *, down: bool = False) -> None:
    """Take a database up (or `down`) to one Alembic revision, as an old version of the app left it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


# -- serving the app ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def awq_decodes_here() -> bool:
    """True when this machine's vLLM build has a kernel for AWQ (GPU, or an AVX-512 CPU)."""
    return preflight.awq_kernel_available(gpu=preflight.has_nvidia_gpu(), flags=preflight.cpu_flags())


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test runner owns the signals
        pass


@contextmanager
def serve(app: FastAPI, port: int) -> Iterator[str]:
    """Run `app` under uvicorn in a thread (lifespan included); yield its URL."""
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"app-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"the app did not start on port {port}")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """The app for these settings, started (its configured users applied) and served; its URL."""
    with serve(create_app(settings), settings.port) as url:
        yield url


def settings_for(work: Path, engine_url: str) -> Settings:
    """Accounts on: `admin` from ADMIN_PASSWORD and `carol` (CAROL) from the users file in `work`."""
    (work / "users.txt").write_text(f"carol:{CAROL}\n")
    return make_settings(
        vllm_base_url=engine_url,
        port=free_port(),
        host="127.0.0.1",
        data_dir=work / "data",
        admin_password=ADMIN_PASSWORD,
        users_file=work / "users.txt",
        login_rate="1000/minute",
    )


@dataclass
class LiveApp:
    """The app, served by uvicorn on a free port, with the engine it launched."""

    url: str
    settings: Settings
    engine: Engine
    early_healthz: int
    early_readyz: int
    early_status: dict[str, Any]
    engine_ready_after: float


@contextmanager
def launch_app(model: Path, work: Path) -> Iterator[LiveApp]:
    """The real app launching a real vLLM server on `model`, served until the block ends; then the
    engine's whole process group must be gone.

    VLLM_CACHE_ROOT should be set first (the `vllm_cache` fixture) to keep vLLM's cache out of ~/.cache.
    """
    settings = make_settings(
        model=str(model),
        served_model_name=SERVED_NAME,
        max_model_len=MAX_MODEL_LEN,
        enforce_eager=True,
        engine_port=free_port(),
        port=free_port(),
        host="127.0.0.1",
        vllm_log_file=work / "deepseek_qwen.log",
        data_dir=work / "data",
    )
    app = create_app(settings)
    engine: Engine = app.state.engine
    started = time.monotonic()
    with serve(app, settings.port) as url, httpx.Client(timeout=5) as http:
        # The app must answer at once, while the engine is still loading.
        early_healthz = http.get(f"{url}/healthz").status_code
        early_readyz = http.get(f"{url}/readyz").status_code
        early_status = http.get(f"{url}/api/status").json()
        ready = False
        while time.monotonic() - started < ENGINE_READY_TIMEOUT:
            response = http.get(f"{url}/readyz")
            if response.status_code == 200:
                ready = True
                break
            if response.json().get("engine") == "error":
                break
            time.sleep(0.5)
        if not ready:
            log = settings.vllm_log_file.read_text()[-4000:] if settings.vllm_log_file.exists() else ""
            pytest.fail(f"engine never became ready: {engine.status()}\n--- engine log tail ---\n{log}")
        pid = engine.pid
        yield LiveApp(url, settings, engine, early_healthz, early_readyz, early_status, time.monotonic() - started)
        pid = engine.pid or pid  # the one running now: a restart launches another
    # Stopping the app stops the engine's whole process group.
    assert pid is not None
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        pass
    else:
        pytest.fail(f"the engine's process group {pid} outlived the app")


@dataclass
class FakeApp:
    """The real app in front of a fake engine whose replies a test sets."""

    url: str
    fake: FakeEngine
    service: ChatService


@contextmanager
def app_beside(live_app: LiveApp, work: Path, **overrides: Any) -> Iterator[str]:
    """Another app (own database, own settings) using the session's real vLLM server as its external engine.

    Accounts are on: `admin` (ADMIN_PASSWORD) and the USERS, from a users file.
    """
    work.mkdir(parents=True, exist_ok=True)
    users_file = work / "users.txt"
    users_file.write_text("".join(f"{name}:{password}\n" for name, password in USERS.items()))
    values: dict[str, Any] = {
        "vllm_base_url": live_app.engine.base_url,
        "vllm_api_key": live_app.engine.api_key,
        "served_model_name": SERVED_NAME,
        "port": free_port(),
        "host": "127.0.0.1",
        "data_dir": work / "data",
        "vllm_log_file": live_app.settings.vllm_log_file,
        "admin_password": ADMIN_PASSWORD,
        "users_file": users_file,
        "login_rate": "1000/minute",
        "chat_rate_per_user": "1000/minute",
        "chat_rate_per_ip": "1000/minute",
    }
    settings = make_settings(**(values | overrides))
    with serve(create_app(settings), settings.port) as url:
        yield url


# -- the REST API ---------------------------------------------------------------------------------


@contextmanager
def sign_in(url: str, name: str, password: str) -> Iterator[httpx.Client]:
    """A client holding the session cookie of `name`."""
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.post("/login", data={"name": name, "password": password, "next": "/"})
        assert response.status_code == 303, response.text
        yield client


def new_conversation(http: httpx.Client) -> str:
    response = http.post("/api/conversations")
    assert response.status_code == 201
    conversation_id: str = response.json()["id"]
    return conversation_id


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]


def chat(http: httpx.Client, conversation_id: str, **body: Any) -> httpx.Response:
    return http.post(f"/api/conversations/{conversation_id}/messages", json=body)


# -- the page in Chromium -----------------------------------------------------------------------


async def send(page: Page, text: str) -> None:
    """Type and press Enter as a person would: once Send says the last turn is over."""
    await expect(page.locator("#send")).to_be_enabled(timeout=30_000)
    box = page.locator("#prompt textarea")
    await box.fill(text)
    await box.press("Enter")


async def chat_menu(page: Page, shown: str, entry: str) -> None:
    """Pick `entry` (a selector: `.chat-pin`, `.chat-rename`, ...) in the menu of the listed chat whose title holds `shown`."""
    item = page.locator("#conversations .chat-item", has_text=shown)
    await item.hover()
    await item.locator(".chat-more").click()
    await page.locator(f".chat-menu {entry}").click()


async def rename_chat(page: Page, shown: str, title: str) -> None:
    """Rename the listed chat whose title holds `shown` as a person would: its rename button, type, Enter."""
    await chat_menu(page, shown, ".chat-rename")
    field = page.locator("#conversations .chat-rename-input")
    await field.fill(title)
    await field.press("Enter")
    await expect(page.locator("#conversations .chat-item", has_text=title)).to_be_visible(timeout=10_000)


async def delete_chat(page: Page, shown: str) -> None:
    """Delete the listed chat whose title holds `shown` from its menu (an undo bar follows, no question)."""
    await chat_menu(page, shown, ".chat-delete")


async def signed_in(context: BrowserContext, url: str, name: str, password: str) -> Page:
    """A new page of `context`, signed in as `name` on the sign-in form."""
    page = await context.new_page()
    await page.goto(url)
    await expect(page).to_have_url(f"{url}/login?next=/")
    await page.locator("input[name=name]").fill(name)
    await page.locator("input[name=password]").fill(password)
    await page.locator("form.login button[type=submit]").click()
    await expect(page.locator("#signed-in-as")).to_contain_text(name, timeout=20_000)
    return page


# -- waiting on a condition -----------------------------------------------------------------------


async def until(read: Callable[[], T], done: Callable[[T], object], within: float = 30.0) -> T:
    """Poll `read()` until `done(value)`, then return the value; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not done(value := read()):
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {within} s: {value}")
        await asyncio.sleep(0.05)
    return value


def rate_or_too_quick(rate: float | None) -> bool:
    """A decode rate as the app keeps it from the real engine: positive, or None when the whole
    answer arrived within `MIN_RATE_SECONDS` (the tiny model can be that quick). That a rate is
    there when the answer takes time is tested with paced pieces (test_chat, test_evaluation)."""
    return rate is None or rate > 0


# -- the chat service on a scripted engine ---------------------------------------------------------


@asynccontextmanager
async def external_service(
    fake: FakeEngine, store: Store, *, checkpoint_seconds: float = 5.0
) -> AsyncIterator[ChatService]:
    """A chat service on `fake`, served while inside; its engine watch and client closed on leaving."""
    with serve_fake(fake) as url:
        engine = Engine(make_settings(vllm_base_url=url))
        await engine.start()
        client = ModelClient(url)
        try:
            assert (await engine.wait_ready(within=10)).ready
            yield ChatService(engine, client, store, checkpoint_seconds=checkpoint_seconds)
        finally:
            await client.aclose()
            await engine.stop()


async def run(turn: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [event async for event in turn]
