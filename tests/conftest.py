"""Fixtures: tiny models built here, one real vLLM server per session, the app around it.

What the tests share that is not a fixture is in helpers.py. Tests are marked by the fixtures
they use (`pytest_collection_modifyitems` below): `engine` when they need a real vLLM server,
`browser` when they drive Chromium. `pytest -m "not engine and not browser"` starts neither.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.fakes import FakeEngine, serve_fake
from tests.helpers import (
    FakeApp,
    LiveApp,
    awq_decodes_here,
    drop_database,
    drop_made_database,
    free_port,
    launch_app,
    made_databases,
    make_settings,
    new_database_url,
    serve,
)
from webapp.application import create_app
from webapp.db.store import Store
from webapp.engine import tiny_model

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

# A test that uses one of these, directly or through another fixture, needs a real vLLM server.
ENGINE_FIXTURES = frozenset({"live_app", "vllm_cache"})
BROWSER_FIXTURES = frozenset({"browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test `engine` and/or `browser` by the fixtures it uses (their closure, so indirectly too)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & ENGINE_FIXTURES:
            item.add_marker(pytest.mark.engine)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


# -- resources ------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _aiohttp_sessions_closed() -> Iterator[None]:
    """Every aiohttp session opened during the run (the model client's) is closed by its end; one that is
    not fails the run, named by where it was opened (else aiohttp only warns, at interpreter exit)."""
    opened: list[tuple[aiohttp.ClientSession, traceback.StackSummary]] = []
    init = aiohttp.ClientSession.__init__
    root = Path(__file__).resolve().parent.parent
    ours_prefixes = (str(root / "tests"), str(root / "webapp"))

    def recording(session: aiohttp.ClientSession, *args: object, **kwargs: object) -> None:
        init(session, *args, **kwargs)  # type: ignore[arg-type]
        ours = [frame for frame in traceback.extract_stack()[:-1] if frame.filename.startswith(ours_prefixes)]
        opened.append((session, traceback.StackSummary.from_list(ours)))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiohttp.ClientSession, "__init__", recording)
        yield
    left = ["".join(stack.format()) for session, stack in opened if not session.closed]
    assert not left, f"{len(left)} aiohttp session(s) left open, opened at:\n" + "\n".join(left)


# -- databases ------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """At the end, drop the databases made for test apps (the `database_url` fixture drops its own at once)."""
    yield
    for name in list(made_databases):
        drop_made_database(name)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database for one test: a SQLite file, or with TEST_DATABASE_URL a PostgreSQL database."""
    url = new_database_url(tmp_path)
    yield url
    drop_database(url)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The history store on a new, empty database (`database_url`: SQLite, or PostgreSQL)."""
    store = Store.open(database_url)
    yield store
    store.close()


# -- the engine -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the three tiny checkpoints: random, scripted and awq."""
    root = tmp_path_factory.mktemp("models")
    for variant in ("random", "scripted", "awq"):
        tiny_model.build(root / variant, variant)
    return root


@pytest.fixture(scope="session")
def vllm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """VLLM_CACHE_ROOT for every vLLM server the tests launch, out of ~/.cache.

    Every test or fixture that launches vLLM itself (not through `live_app`) asks for this one:
    that marks the test `engine`, out of the fast tier.
    """
    os.environ.setdefault("VLLM_CACHE_ROOT", str(tmp_path_factory.mktemp("vllm-cache")))
    return Path(os.environ["VLLM_CACHE_ROOT"])


@pytest.fixture(scope="session")
def live_app(models_dir: Path, vllm_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The real app launching a real vLLM server on the tiny scripted model (AWQ where it decodes).

    Shared by the whole session: no test may stop or kill its engine (test_supervision has its own).
    """
    model = models_dir / ("awq" if awq_decodes_here() else "scripted")
    with launch_app(model, tmp_path_factory.mktemp("app")) as app:
        yield app


@pytest.fixture(scope="session")
def fake_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeApp]:
    """The real app in front of a fake engine whose replies a test sets."""
    fake = FakeEngine()
    work = tmp_path_factory.mktemp("fake-app")
    with serve_fake(fake) as engine_url:
        # Every test of the session starts conversations on it from 127.0.0.1: no limit per address.
        settings = make_settings(
            vllm_base_url=engine_url, port=free_port(), host="127.0.0.1", data_dir=work, conversation_rate_per_ip="0"
        )
        app = create_app(settings)
        with serve(app, settings.port) as url:
            with httpx.Client() as http:
                deadline = time.monotonic() + 30
                while http.get(f"{url}/readyz").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.1)
            yield FakeApp(url, fake, app.state.chat)


# -- the browser ----------------------------------------------------------------------------------

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
        opened = browser.new_context

        async def new_context(**options: Any) -> BrowserContext:
            # The page speaks its reader's language (Accept-Language); the suite's browsers read
            # Chinese, the page's first language, unless a test gives another locale.
            return await opened(**{"locale": "zh-CN", **options})

        setattr(browser, "new_context", new_context)  # noqa: B010  (mypy refuses assigning to a method)
        yield browser
        await browser.close()


@pytest.fixture
async def fake_page(browser: Browser, fake_app: FakeApp) -> AsyncIterator[Page]:
    """The app in front of a fake engine: for output a real model cannot be made to write."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(fake_app.url)
    yield page
    await context.close()
