"""Fixtures: tiny models built here, one real vLLM server per session, the app around it."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from tests.fakes import FakeEngine, serve_fake
from webapp.application import create_app
from webapp.chat.service import ChatService
from webapp.engine import preflight, tiny_model
from webapp.engine.supervisor import Engine
from webapp.settings import Settings

# The engine inherits the environment: keep it offline, small and out of ~/.cache.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Each test app or store gets a database of its own (see `new_database_url`). A DATABASE_URL given
# to the test run names the PostgreSQL server to make them on; left in the environment, it would
# put every app on one database instead.
if os.environ.get("DATABASE_URL") and not os.environ.get("TEST_DATABASE_URL"):
    os.environ["TEST_DATABASE_URL"] = os.environ["DATABASE_URL"]
os.environ.pop("DATABASE_URL", None)

ENGINE_READY_TIMEOUT = 300.0
SERVED_NAME = "tiny-r1"
MAX_MODEL_LEN = 512


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


_made_databases: list[str] = []


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
    _made_databases.append(name)
    return server.set(database=name).render_as_string(hide_password=False)


def _drop(name: str) -> None:
    _made_databases.remove(name)
    try:
        _server_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except DBAPIError as error:  # a server's own process inside it (autovacuum) is not ours to end
        warnings.warn(f"test database {name} is left on the server: {error.orig}", stacklevel=2)


def drop_database(url: str) -> None:
    """Drop a database `new_database_url` made, cutting whoever is still connected (a SQLite file stays)."""
    name = make_url(url).database
    if name in _made_databases:
        _drop(name)


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """At the end, drop the databases made for test apps (the `database_url` fixture drops its own at once)."""
    yield
    for name in list(_made_databases):
        _drop(name)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database for one test: a SQLite file, or with TEST_DATABASE_URL a PostgreSQL database."""
    url = new_database_url(tmp_path)
    yield url
    drop_database(url)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def awq_decodes_here() -> bool:
    """True when this machine's vLLM build has a kernel for AWQ (GPU, or an AVX-512 CPU)."""
    return preflight.awq_kernel_available(gpu=preflight.has_nvidia_gpu(), flags=preflight.cpu_flags())


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the three tiny checkpoints: random, scripted and awq."""
    root = tmp_path_factory.mktemp("models")
    for variant in ("random", "scripted", "awq"):
        tiny_model.build(root / variant, variant)
    return root


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


@pytest.fixture(scope="session")
def live_app(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The real app launching a real vLLM server on the tiny scripted model (AWQ where it decodes)."""
    work = tmp_path_factory.mktemp("app")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(work / "vllm-cache"))
    model = models_dir / ("awq" if awq_decodes_here() else "scripted")
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


@pytest.fixture(scope="session")
def fake_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeApp]:
    fake = FakeEngine()
    work = tmp_path_factory.mktemp("fake-app")
    with serve_fake(fake) as engine_url:
        settings = make_settings(vllm_base_url=engine_url, port=free_port(), host="127.0.0.1", data_dir=work)
        app = create_app(settings)
        with serve(app, settings.port) as url:
            with httpx.Client() as http:
                deadline = time.monotonic() + 30
                while http.get(f"{url}/readyz").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.1)
            yield FakeApp(url, fake, app.state.chat)


ADMIN_PASSWORD = "admin-pass-1"
USERS = {"alice": "alice-pass-1", "bob": "bob-pass-12"}


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


@contextmanager
def sign_in(url: str, name: str, password: str) -> Iterator[httpx.Client]:
    """A client holding the session cookie of `name`."""
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.post("/login", data={"name": name, "password": password, "next": "/"})
        assert response.status_code == 303, response.text
        yield client


CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out from an offline machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()
