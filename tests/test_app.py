"""The web app: probes, offline-safety, and the chat service in both engine modes."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SERVED_NAME, LiveApp, free_port, serve
from webapp.application import client_model_name, create_app
from webapp.chat import MAX_MESSAGE_CHARS, ChatService, validate_message
from webapp.client import ModelClient, StreamEnd
from webapp.errors import ContextTooLong, EngineNotReady, InvalidInput
from webapp.reasoning import Piece
from webapp.settings import Settings
from webapp.tiny_model import SCRIPT_ANSWER, SCRIPT_REASONING


def test_probes_when_ready(live_app: LiveApp) -> None:
    assert httpx.get(f"{live_app.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_app.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "engine": "ready"}


def test_the_chat_page_is_served(live_app: LiveApp) -> None:
    page = httpx.get(f"{live_app.url}/")
    assert page.status_code == 200
    assert "<gradio-app" in page.text or "gradio" in page.text.lower()


async def test_the_service_streams_the_answer(live_app: LiveApp) -> None:
    service: ChatService = ChatService(live_app.engine, _client(live_app))
    events = [e async for e in service.stream([], "你好")]
    pieces = [e for e in events if isinstance(e, Piece)]
    assert "".join(p.text for p in pieces if p.kind == "reasoning") == SCRIPT_REASONING
    assert "".join(p.text for p in pieces if p.kind == "content") == SCRIPT_ANSWER
    assert isinstance(events[-1], StreamEnd)


async def test_history_reasoning_is_not_resent_and_fits_the_context(live_app: LiveApp) -> None:
    service = ChatService(live_app.engine, _client(live_app))
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "x " * 2000 + "</think>short answer"},
    ]
    # The old reasoning alone would overflow the 512-token context; stripped, it fits.
    events = [e async for e in service.stream(history, "again")]
    assert isinstance(events[-1], StreamEnd)
    assert events[-1].finish_reason == "stop"


async def test_a_message_too_long_for_the_context_is_told_plainly(live_app: LiveApp) -> None:
    service = ChatService(live_app.engine, _client(live_app))
    with pytest.raises(ContextTooLong, match="the model's context holds 512"):
        async for _ in service.stream([], "fox " * 600):
            pass


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   \n", "empty"), (None, "must be text"), ("x" * (MAX_MESSAGE_CHARS + 1), "the limit is")],
)
def test_bad_messages_get_a_clear_error(text: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_message(text)


def test_an_external_engine_is_asked_for_the_name_it_serves() -> None:
    external = Settings(_env_file=None, vllm_base_url="http://h:8000/v1")
    assert client_model_name(external) is None
    named = Settings(_env_file=None, vllm_base_url="http://h:8000/v1", served_model_name="x")
    assert client_model_name(named) == "x"
    launched = Settings(_env_file=None)
    assert client_model_name(launched) == "DeepSeek-R1-Distill-Qwen-1.5B"


async def test_an_app_on_an_external_engine_discovers_it_and_chats(live_app: LiveApp, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        vllm_base_url=live_app.engine.base_url,
        vllm_api_key=live_app.engine.api_key,
        port=free_port(),
        data_dir=tmp_path,
    )
    app = create_app(settings)
    with serve(app, settings.port) as url:
        engine = app.state.engine
        status = await engine.wait_ready(within=30)
        assert status.ready
        assert status.state.value == "external"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/readyz")).json()["engine"] == "external"
        events = [e async for e in app.state.chat.stream([], "hi")]
        assert "".join(e.text for e in events if isinstance(e, Piece) and e.kind == "content") == SCRIPT_ANSWER
        assert await app.state.chat.client.amodel_name() == SERVED_NAME


def test_an_app_whose_engine_is_down_serves_pages_offline_and_says_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def spy(host: object, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    settings = Settings(
        _env_file=None, vllm_base_url=f"http://127.0.0.1:{free_port()}/v1", port=free_port(), data_dir=tmp_path
    )
    app = create_app(settings)
    with serve(app, settings.port) as url:
        time.sleep(1.0)  # let Gradio's startup threads (version check, telemetry) run, if any
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/").status_code == 200
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        with pytest.raises(EngineNotReady):
            app.state.engine.require_ready()
    # Nothing but loopback was looked up: no version check, telemetry or hub call.
    assert set(looked_up) <= {"127.0.0.1", "localhost"}, looked_up


def _client(live_app: LiveApp) -> ModelClient:
    return ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model=SERVED_NAME)
