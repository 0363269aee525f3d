"""The HTTP transport under the openai client: aiohttp behind httpx2's transport interface.

aiohttp parses responses in C (httpx's own h11 costs several times more per streamed
chunk), and this transport hands each streamed response's connection over in the
response's extensions (`READING`), so a stream that rests can stop reading it meanwhile.
The openai SDK's own aiohttp client (`openai.DefaultAioHttpClient`) does the first but
keeps the connection out of reach.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import aiohttp
import httpx2

# The response extension holding the connection (a `Reading`), where there is one to hand.
READING = "engine_connection"

CHUNK = 16 * 1024  # the most one read of a streamed body returns

# Seconds an idle connection stays in the pool. vLLM's server (uvicorn) closes one after 5 s
# idle (VLLM_HTTP_TIMEOUT_KEEP_ALIVE); aiohttp's default of 15 s let a turn start on a
# connection the engine was closing at that moment, and fail as "unreachable" (seen once in
# `make bench`, in a burst of chats ~5 s after the last). Given up first, it never is.
KEEPALIVE = 4.0


@runtime_checkable
class Reading(Protocol):
    """A connection whose reading can be paused: asyncio's or uvloop's transport (uvloop's is no
    `asyncio.ReadTransport`, hence a protocol)."""

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_reading(self) -> bool: ...
    def is_closing(self) -> bool: ...


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """aiohttp's errors as the httpx2 ones the openai SDK turns into its own (the cause kept)."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:  # refused, no route, unknown host
        raise httpx2.ConnectError(str(exc)) from exc
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx2.ConnectTimeout(str(exc)) from exc
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx2.ReadTimeout(str(exc) or "No answer in time.") from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx2.RemoteProtocolError(str(exc)) from exc
    except aiohttp.ClientPayloadError as exc:  # a body cut short or malformed
        raise httpx2.ReadError(str(exc)) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx2.UnsupportedProtocol(str(exc)) from exc
    except aiohttp.ClientError as exc:
        raise httpx2.NetworkError(str(exc)) from exc


class _Body(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self._response.content.iter_chunked(CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # A body not read to its end closes its connection instead of going back to the pool.
        self._response.release()


class EngineTransport(httpx2.AsyncBaseTransport):
    """One aiohttp connection pool for every request to the engine(s). Proxies named in the
    environment are httpx2's business: it sends those requests through its own transport."""

    def __init__(self, *, max_connections: int = 1000, keepalive: float = KEEPALIVE) -> None:
        self._max_connections = max_connections
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors():
            response = await self._client().request(
                request.method,
                str(request.url),
                headers=request.headers,
                data=body or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx2 decodes the body itself, as the headers say
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"), sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            )
        extensions: dict[str, object] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        connection = response.connection.transport if response.connection is not None else None
        if isinstance(connection, Reading):
            extensions[READING] = connection
        return httpx2.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def reading_of(response: httpx2.Response) -> Reading | None:
    """The connection a response of `EngineTransport` streams from; None for another transport."""
    # Only a `Reading` is stored there (`handle_async_request` checks): no second isinstance,
    # which against a runtime-checkable protocol costs microseconds per turn.
    connection: Reading | None = response.extensions.get(READING)
    return connection


def until_tick(now: float, seconds: float) -> float:
    """How long a rest of about `seconds` begun at `now` lasts: until the first multiple of `seconds`
    on the loop's clock at least half a rest away (so between 0.5 and 1.5 rests, one on average).

    Streams resting alike thus wake together, in one turn of the event loop, and their reads
    come in one poll: at 32 streams, 14 % less CPU per token than each waking on its own clock
    (concurrent A/B, 8 runs)."""
    return math.ceil((now + seconds / 2) / seconds) * seconds - now


async def rest(connection: Reading | None, seconds: float) -> None:
    """Sleep about `seconds` (`until_tick`) with the connection's reading paused: what comes
    meanwhile waits in the kernel and is read at once afterwards. Read as it arrives, every token
    of every stream wakes the HTTP client on its own: at 64 streams of 100 tokens/s, twice the CPU
    per token (bench.floor shows both)."""
    now = asyncio.get_running_loop().time()
    delay = until_tick(now, seconds)
    if connection is None or connection.is_closing():
        await asyncio.sleep(delay)
        return
    connection.pause_reading()
    try:
        await asyncio.sleep(delay)
    finally:
        if not connection.is_closing():
            connection.resume_reading()
