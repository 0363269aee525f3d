"""The HTTP connections to the engine: one aiohttp pool for every asynchronous request.

aiohttp parses responses in C (h11, under httpx, costs several times more per streamed
chunk), and its responses give access to their connection (`reading_of`), so a stream
that rests can stop reading it meanwhile. Its errors are left as they are: `failures`
turns them into the app's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, runtime_checkable

import aiohttp

CHUNK = 16 * 1024  # the most one read of a streamed body returns

# Seconds an idle connection stays in the pool. vLLM's server (uvicorn) closes one after 5 s
# idle (VLLM_HTTP_TIMEOUT_KEEP_ALIVE): a connection kept longer could be taken for a request
# at the moment the engine closes it, and the request would fail as "unreachable".
KEEPALIVE = 4.0

# Requests say who sends them, and nothing more about this machine.
USER_AGENT = "deepseek-r1-chat"


@runtime_checkable
class Reading(Protocol):
    """A connection whose reading can be paused: asyncio's or uvloop's transport (uvloop's is no
    `asyncio.ReadTransport`, hence a protocol)."""

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_reading(self) -> bool: ...
    def is_closing(self) -> bool: ...


class EngineTransport:
    """One aiohttp connection pool for every request to one engine. Proxies named in the
    environment (HTTP_PROXY, NO_PROXY...) are honoured."""

    def __init__(
        self,
        *,
        api_key: str = "EMPTY",
        timeout: float = 600.0,
        max_connections: int = 1000,
        keepalive: float = KEEPALIVE,
    ) -> None:
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        # No limit on a whole answer, which may stream for many minutes; on each connect and each read.
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
        self._max_connections = max_connections
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=self._timeout, trust_env=True
            )
        return self._session

    @asynccontextmanager
    async def open(self, method: str, url: str, body: Any = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """The engine's response, its body to be read inside the block. A body not read to its
        end closes its connection instead of going back to the pool."""
        data = None if body is None else json.dumps(body).encode()
        headers = None if body is None else {"Content-Type": "application/json"}
        async with self._client().request(method, url, data=data, headers=headers, allow_redirects=False) as response:
            yield response

    async def exchange(self, method: str, url: str, body: Any = None) -> tuple[int, bytes]:
        """One request and the whole answer: its status and body."""
        async with self.open(method, url, body) as response:
            return response.status, await response.read()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def reading_of(response: aiohttp.ClientResponse) -> Reading | None:
    """The connection a response streams from, where it can be paused."""
    connection = response.connection.transport if response.connection is not None else None
    return connection if isinstance(connection, Reading) else None
