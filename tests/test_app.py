"""The web app: probes, offline-safety, and both engine modes."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import SERVED_NAME, LiveApp, free_port, make_settings, serve
from webapp.application import client_model_name, create_app
from webapp.chat.events import TurnEnded
from webapp.engine.tiny_model import SCRIPT_ANSWER
from webapp.errors import EngineNotReady


def test_probes_when_ready(live_app: LiveApp) -> None:
    assert httpx.get(f"{live_app.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_app.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "engine": "ready"}


def test_the_apps_own_metrics_are_prometheus_text(live_app: LiveApp) -> None:
    response = httpx.get(f"{live_app.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in ("r1chat_chat_requests_total", "r1chat_active_streams", "r1chat_tokens_streamed_total"):
        assert name in response.text


def test_the_chat_page_is_served_with_an_owner_cookie(live_app: LiveApp) -> None:
    page = httpx.get(f"{live_app.url}/")
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("r1chat_owner=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_an_external_engine_is_asked_for_the_name_it_serves() -> None:
    external = make_settings(vllm_base_url="http://h:8000/v1")
    assert client_model_name(external) is None
    named = make_settings(vllm_base_url="http://h:8000/v1", served_model_name="x")
    assert client_model_name(named) == "x"
    launched = make_settings()
    assert client_model_name(launched) == "DeepSeek-R1-Distill-Qwen-1.5B"


async def test_an_app_on_an_external_engine_discovers_it_and_chats(live_app: LiveApp, tmp_path: Path) -> None:
    settings = make_settings(
        vllm_base_url=live_app.engine.base_url,
        vllm_api_key=live_app.engine.api_key,
        vllm_log_file=live_app.settings.vllm_log_file,  # an engine started by hand, logging as the article does
        port=free_port(),
        data_dir=tmp_path,
    )
    app = create_app(settings)
    with serve(app, settings.port) as url:
        status = await app.state.engine.wait_ready(within=30)
        assert status.ready
        assert status.state.value == "external"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/readyz")).json()["engine"] == "external"
            engine = (await http.get(f"{url}/api/status")).json()["engine"]
        assert engine["state"] == "external"
        assert engine["max_model_len"] == 512  # read from the log in this mode too
        assert engine["served_model_name"] == SERVED_NAME
        assert "requests_running" in engine["metrics"]
        service = app.state.chat
        conversation = await service.new_conversation("someone")
        events = [e async for e in service.send("someone", conversation.id, "hi")]
        assert isinstance(events[-1], TurnEnded)
        assert events[-1].message.content == SCRIPT_ANSWER
        assert await service.client.amodel_name() == SERVED_NAME


def test_an_app_whose_engine_is_down_serves_pages_offline_and_says_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def spy(host: object, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    threads_before = set(threading.enumerate())
    settings = make_settings(vllm_base_url=f"http://127.0.0.1:{free_port()}/v1", port=free_port(), data_dir=tmp_path)
    app = create_app(settings)
    with serve(app, settings.port) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/").status_code == 200
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        with pytest.raises(EngineNotReady):
            app.state.engine.require_ready()
    # Gradio's version check and telemetry (when on) run in threads of their own, not daemons: once the
    # threads the app started have ended, whatever they looked up is in `looked_up`.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        not thread.daemon for thread in set(threading.enumerate()) - threads_before
    ):
        time.sleep(0.05)
    # Nothing but loopback was looked up: no version check, telemetry or hub call.
    assert set(looked_up) <= {"127.0.0.1", "localhost"}, looked_up


@pytest.fixture
def logging_restored() -> Iterator[None]:
    names = ("", "httpx", "httpx2")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("logging_restored")
def test_the_http_clients_say_each_request_only_when_debugging() -> None:
    import app

    app.configure_logging("info")
    assert logging.getLogger("webapp.chat.service").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpx2").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx2").isEnabledFor(logging.WARNING)
    app.configure_logging("debug")
    assert logging.getLogger("httpx2").isEnabledFor(logging.DEBUG)


def test_requests_are_logged_when_asked_or_when_debugging() -> None:
    import app

    assert app.server_options(make_settings())["access_log"] is False
    assert app.server_options(make_settings(access_log=True))["access_log"] is True
    assert app.server_options(make_settings(log_level="debug"))["access_log"] is True


def test_what_startup_built_is_exempt_from_garbage_collection(live_app: LiveApp) -> None:
    import gc

    # The live app's startup froze the heap it found (nothing else here calls gc.freeze).
    assert gc.get_freeze_count() > 100_000
