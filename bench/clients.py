"""Light clients, one per way in, each timing one chat the same way: httpx reading Server-Sent Events.

- direct: the upstream's own OpenAI streaming API (what the app adds is measured against this);
- app: the app's REST API (`POST /api/conversations/{id}/messages`), the same ChatService the page uses;
- baseline: Gradio's HTTP API of the ChatInterface (`/gradio_api/call/chat`), through its queue.

No browser: eight Chromium pages already fill two cores, so concurrency is measured with these.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Literal

import httpx

from bench.servers import Upstream

TIMEOUT = httpx.Timeout(600.0, connect=30.0)
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200)


@dataclass(frozen=True, slots=True)
class ChatTiming:
    """One chat as its client saw it: seconds to the first token of thinking or answer, seconds in all.

    `events` counts the updates received; `tokens` is the upstream's own count where it reaches the
    client (vLLM merges tokens into one update when its reader falls behind), else `events`.
    """

    ttft: float
    total: float
    events: int
    tokens: int


class ChatFailed(RuntimeError):
    pass


def _timing(started: float, first: float | None, events: int, tokens: int | None = None) -> ChatTiming:
    end = time.perf_counter()
    if first is None or events == 0:
        raise ChatFailed("the chat ended without a token")
    return ChatTiming(first - started, end - started, events, tokens or events)


async def direct_chat(http: httpx.AsyncClient, upstream: Upstream, text: str) -> ChatTiming:
    """One streamed chat completion straight from the upstream."""
    body = {
        "model": upstream.model,
        "messages": [{"role": "user", "content": text}],
        "temperature": 0.6,
        "top_p": 0.95,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {upstream.api_key}"}
    started, first, events, tokens = time.perf_counter(), None, 0, None
    async with http.stream("POST", f"{upstream.base_url}/chat/completions", json=body, headers=headers) as response:
        if response.status_code != 200:
            raise ChatFailed(f"upstream answered {response.status_code}: {(await response.aread())[:300]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or []
            delta = (choices[0].get("delta") or {}) if choices else {}
            if delta.get("content") or delta.get("reasoning") or delta.get("reasoning_content"):
                events += 1
                first = first or time.perf_counter()
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return _timing(started, first, events, tokens)


async def new_conversation(http: httpx.AsyncClient) -> str:
    """A conversation of this client's owner (the first request gives the client its owner cookie)."""
    response = await http.post("/api/conversations")
    response.raise_for_status()
    conversation: str = response.json()["id"]
    return conversation


async def app_chat(http: httpx.AsyncClient, conversation: str, text: str) -> ChatTiming:
    """One message through the app's REST API, until its `done` event."""
    started, first, events = time.perf_counter(), None, 0
    async with http.stream("POST", f"/api/conversations/{conversation}/messages", json={"content": text}) as response:
        if response.status_code != 200:
            raise ChatFailed(f"app answered {response.status_code}: {(await response.aread())[:300]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            kind = event["type"]
            if kind in ("reasoning", "content"):
                events += 1
                first = first or time.perf_counter()
            elif kind == "error":
                raise ChatFailed(f"app stream error: {line[:300]}")
            elif kind == "done":
                stored = event["message"]
                return _timing(
                    started, first, events, (stored["reasoning_tokens"] or 0) + (stored["answer_tokens"] or 0)
                )
    raise ChatFailed("the app's stream ended without a done event")


async def baseline_chat(http: httpx.AsyncClient, text: str) -> ChatTiming:
    """One message through the ChatInterface's queue: every yield is one event carrying the whole text."""
    started, first, events = time.perf_counter(), None, 0
    response = await http.post("/gradio_api/call/chat", json={"data": [text]})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    event, length = "", 0
    async with http.stream("GET", f"/gradio_api/call/chat/{event_id}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "generating":
                shown = json.loads(line[6:])[0]
                if isinstance(shown, str) and len(shown) > length:
                    length = len(shown)
                    events += 1
                    first = first or time.perf_counter()
            elif line.startswith("data: ") and event == "complete":
                return _timing(started, first, events)
            elif event == "error":
                raise ChatFailed(f"baseline error: {line[:300]}")
    raise ChatFailed("the baseline's stream ended without a complete event")


Way = Literal["direct", "app", "baseline"]
WAYS: tuple[Way, ...] = ("direct", "app", "baseline")


class User:
    """One person chatting one way: their own connections (and, in the app, owner cookie and conversation)."""

    def __init__(self, way: Way, upstream: Upstream, url: str) -> None:
        self.way = way
        self.upstream = upstream
        self.http = httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=LIMITS)
        self.conversation = ""

    async def prepare(self) -> None:
        """What happens before a message is sent: in the app, a new conversation."""
        if self.way == "app":
            self.conversation = await new_conversation(self.http)

    async def chat(self, text: str) -> ChatTiming:
        if self.way == "direct":
            return await direct_chat(self.http, self.upstream, text)
        if self.way == "app":
            return await app_chat(self.http, self.conversation, text)
        return await baseline_chat(self.http, text)

    async def aclose(self) -> None:
        await self.http.aclose()
