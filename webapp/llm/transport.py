"""The HTTP transport under the openai client, and the openai clients made on it.

`EngineTransport` is aiohttp behind httpx2's transport interface. aiohttp parses responses
in C (cheaper per streamed chunk than h11, under httpx2), and the transport
hands each response's connection over in the response's extensions (`reading_of`), so a
stream that rests can stop reading it meanwhile. The openai SDK's own aiohttp client
(`openai.DefaultAioHttpClient`) does the first but keeps the connection out of reach.
aiohttp's errors become the httpx2 ones the SDK turns into its own (`failures` translates
those).
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Protocol, cast, runtime_checkable

import aiohttp
import httpx2
import openai

CHUNK = 16 * 1024  # the most one read of a streamed body returns

# Seconds an idle connection stays in the pool. vLLM's server (uvicorn) closes one after 5 s
# idle (VLLM_HTTP_TIMEOUT_KEEP_ALIVE): a connection kept longer could be taken for a request
# at the moment the engine closes it, and the request would fail as "unreachable".
KEEPALIVE = 4.0

# The response extension holding the connection (a `Reading`), where there is one to hand.
READING = "engine_connection"


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
    """One aiohttp connection pool for every asynchronous request to one engine."""

    def __init__(self, *, max_connections: int = 1000, keepalive: float = KEEPALIVE) -> None:
        self._max_connections = max_connections
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str, int | None], str | None] = {}

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _proxy(self, url: httpx2.URL) -> str | None:
        """The proxy the environment names for `url` (HTTP_PROXY, NO_PROXY...), looked up once per
        engine: aiohttp's own lookup (`trust_env`) takes two trips to a thread per request, and
        httpx2 leaves proxies to a transport given to it."""
        origin = (url.scheme, url.host, url.port)
        if origin not in self._proxies:
            bypass = urllib.request.proxy_bypass(f"{url.host}:{url.port}" if url.port else url.host)
            self._proxies[origin] = None if bypass else urllib.request.getproxies().get(url.scheme)
        return self._proxies[origin]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors():
            response = await self._client().request(
                request.method,
                str(request.url),
                proxy=self._proxy(request.url),
                headers=request.headers,
                data=body or None,
                allow_redirects=False,  # httpx2 follows them, as the client says
                auto_decompress=False,  # httpx2 decodes the body itself, as the headers say
                # No limit on a whole answer, which may stream for many minutes; on each connect and read.
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
    # Only a `Reading` is stored there (`handle_async_request` checks): not checked again (an isinstance
    # against a runtime-checkable protocol is a slow one).
    connection: Reading | None = response.extensions.get(READING)
    return connection


# Requests say who sends them and nothing more: the openai client's platform headers (OS,
# CPU, Python and SDK versions) are left out, and so are an organisation and project the
# environment may name for OpenAI's own API.
USER_AGENT = "deepseek-r1-chat"
_LEFT_OUT = (
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
    "OpenAI-Organization",
    "OpenAI-Project",
)
# (`default_headers` is typed as strings, but the SDK drops an `Omit` there as in a request's headers.)
_QUIET = cast(dict[str, str], {"User-Agent": USER_AGENT} | {name: openai.Omit() for name in _LEFT_OUT})
# What the SDK adds to each request unless the request itself leaves it out: its retry count and timeout.
PER_REQUEST: dict[str, str | openai.Omit] = {
    "X-Stainless-Retry-Count": openai.Omit(),
    "X-Stainless-Read-Timeout": openai.Omit(),
}


def async_openai(base_url: str, *, api_key: str, timeout: float, transport: EngineTransport) -> openai.AsyncOpenAI:
    """The app's openai client, on `transport`. No retries: a turn fails fast and is reported, and
    the endpoint pool fails over to another engine."""
    http = openai.DefaultAsyncHttpxClient(transport=transport, timeout=timeout)
    return openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0, default_headers=_QUIET, http_client=http
    )


def sync_openai(base_url: str, *, api_key: str, timeout: float) -> openai.OpenAI:
    """The synchronous openai client (scripts), on the SDK's own HTTP client; no retries either."""
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0, default_headers=_QUIET)


def vllm_http(*, api_key: str, timeout: float, transport: EngineTransport) -> httpx2.AsyncClient:
    """The SDK's HTTP client, on `transport`, for vLLM's own routes beside the OpenAI API (`/tokenize`,
    `/health`, `/metrics`), which the openai client has no calls for."""
    headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
    return openai.DefaultAsyncHttpxClient(transport=transport, timeout=timeout, headers=headers)
