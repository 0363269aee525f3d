"""Several engine endpoints: least-loaded routing by `/metrics`, and failover to one that answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Response

from tests.helpers import SERVED_NAME, LiveApp, free_port, make_settings, serve, sse_events
from webapp.application import create_app
from webapp.engine.tiny_model import SCRIPT_ANSWER
from webapp.errors import EngineUnreachable
from webapp.llm.client import ModelClient, StreamEnd
from webapp.llm.endpoints import Endpoint, EndpointPool, pick, queue_depth
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import Sampling

QUESTION = [{"role": "user", "content": "hi"}]


def endpoint(url: str, *, healthy: bool = True, queue: float = 0, inflight: int = 0, order: int = 0) -> Endpoint:
    return Endpoint(ModelClient(url), healthy=healthy, queue=queue, inflight=inflight, order=order)


def test_the_least_loaded_healthy_endpoint_is_picked() -> None:
    a, b, c = endpoint("http://a/v1", queue=5), endpoint("http://b/v1", queue=1), endpoint("http://c/v1", queue=0)
    c.healthy = False
    assert pick([a, b, c]) is b
    assert pick([a, b, c], exclude=[b]) is a
    assert pick([a, b, c], exclude=[a, b]) is c  # only a down one left: try it anyway
    assert pick([a, b, c], exclude=[a, b, c]) is None


def test_requests_sent_since_the_last_poll_count_as_load() -> None:
    a, b = endpoint("http://a/v1", queue=2), endpoint("http://b/v1", queue=0, inflight=3)
    assert pick([a, b]) is a


def test_ties_go_to_the_endpoint_used_least_recently() -> None:
    a, b = endpoint("http://a/v1", order=7), endpoint("http://b/v1", order=3)
    assert pick([a, b]) is b


def test_queue_depth_is_running_plus_waiting() -> None:
    metrics = (
        "# TYPE vllm:num_requests_running gauge\n"
        'vllm:num_requests_running{model_name="m",engine="0"} 2.0\n'
        'vllm:num_requests_running{model_name="m",engine="1"} 1.0\n'
        "# TYPE vllm:num_requests_waiting gauge\n"
        'vllm:num_requests_waiting{model_name="m"} 4.0\n'
    )
    assert queue_depth(metrics) == 7.0
    assert queue_depth("") == 0.0


def busy_engine(waiting: int) -> FastAPI:
    """An endpoint that is up but says it has a long queue; it must not be sent a chat."""
    app = FastAPI()
    app.state.chats = 0

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/metrics")
    async def metrics() -> Response:
        text = f'# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{{model_name="m"}} {waiting}.0\n'
        return Response(text, media_type="text/plain")

    @app.post("/v1/chat/completions")
    async def chat() -> Response:
        app.state.chats += 1
        return Response(status_code=500)

    return app


@pytest.fixture
def busy() -> Iterator[tuple[str, FastAPI]]:
    app = busy_engine(50)
    with serve(app, free_port()) as url:
        yield f"{url}/v1", app


async def answer(pool: EndpointPool) -> str:
    text = ""
    async for event in pool.astream(QUESTION, Sampling(max_tokens=64)):
        if isinstance(event, Piece) and event.kind == "content":
            text += event.text
        assert not isinstance(event, StreamEnd) or event.finish_reason is not None
    return text


async def test_chats_go_to_the_endpoint_with_the_shorter_queue(live_app: LiveApp, busy: tuple[str, FastAPI]) -> None:
    busy_url, busy_app = busy
    pool = EndpointPool([busy_url, live_app.engine.base_url], api_key=live_app.engine.api_key, model=SERVED_NAME)
    pool.start()
    try:
        for _ in range(50):  # the first poll
            if pool.endpoints[0].queue:
                break
            await asyncio.sleep(0.1)
        assert pool.endpoints[0].queue == 50.0
        answers = await asyncio.gather(*(answer(pool) for _ in range(3)))
        assert answers == [SCRIPT_ANSWER] * 3
        assert busy_app.state.chats == 0
        assert all(e.inflight == 0 for e in pool.endpoints)
    finally:
        await pool.aclose()


async def test_a_dead_endpoint_is_skipped_and_marked_down(live_app: LiveApp) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    pool = EndpointPool([dead, live_app.engine.base_url], api_key=live_app.engine.api_key, model=SERVED_NAME)
    try:
        assert await answer(pool) == SCRIPT_ANSWER  # no poll yet: both look healthy, the dead one is tried first
        assert [e.healthy for e in pool.endpoints] == [False, True]
        assert "connection" in (pool.endpoints[0].error or "").lower()
        count = await pool.acount_tokens(QUESTION)
        assert count is not None and count.count > 0
        assert pool.report()[0] == {"url": dead, "healthy": False, "queue": 0.0, "inflight": 0}
    finally:
        await pool.aclose()


async def test_when_no_endpoint_answers_the_error_names_them_all() -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    pool = EndpointPool(urls, model="m")
    try:
        with pytest.raises(EngineUnreachable, match="No engine endpoint answers \\(2 tried\\)") as failed:
            await answer(pool)
        assert all(url in failed.value.message for url in urls)
    finally:
        await pool.aclose()


def test_an_app_on_several_endpoints_is_ready_when_one_answers_and_shows_them(
    live_app: LiveApp, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = make_settings(
        vllm_base_url=f"{dead}, {live_app.engine.base_url}",
        vllm_api_key=live_app.engine.api_key,
        served_model_name=SERVED_NAME,
        port=free_port(),
        data_dir=tmp_path,
        vllm_log_file=tmp_path / "engine.log",
    )
    assert settings.vllm_base_urls == [dead, live_app.engine.base_url]
    with serve(create_app(settings), settings.port) as url, httpx.Client(base_url=url, timeout=60) as http:
        deadline = time.monotonic() + 30
        while http.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert http.get("/readyz").status_code == 200
        conversation = http.post("/api/conversations").json()["id"]
        reply = http.post(f"/api/conversations/{conversation}/messages", json={"content": "hi"})
        events = sse_events(reply)
        assert SCRIPT_ANSWER.split()[0] in reply.text and events[-1]["type"] == "done"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            endpoints = http.get("/api/status").json()["engine"]["endpoints"]
            if not endpoints[0]["healthy"]:
                break
            time.sleep(0.3)
        assert [(e["url"], e["healthy"]) for e in endpoints] == [(dead, False), (live_app.engine.base_url, True)]
