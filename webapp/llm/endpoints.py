"""Several engine endpoints as one: least-loaded routing by their `/metrics`, and failover.

An endpoint is a vLLM server (a replica) or a router in front of a vLLM cluster.
Each is polled every second for health and for its queue depth (requests running
plus waiting, from vLLM's Prometheus metrics); a request goes to the healthy one
with the least load, counting the requests this app has sent there since. One that
refuses a connection is marked down and the request goes to the next; an answer
already streaming is not moved (it fails with a clear error, and is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from webapp.engine import logfile as engine_log
from webapp.errors import EngineUnreachable
from webapp.llm.client import ModelClient, StreamEvent, TokenCount
from webapp.llm.sampling import RECOMMENDED, Sampling

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
POLL_TIMEOUT = 2.0  # seconds for each of a poll's requests


@dataclass
class Endpoint:
    client: ModelClient
    healthy: bool = True  # until a poll or a request says otherwise
    queue: float = 0.0  # running + waiting at the last poll
    inflight: int = 0  # this app's requests there, now
    error: str | None = None
    order: int = 0

    @property
    def url(self) -> str:
        return self.client.base_url

    @property
    def load(self) -> float:
        # The engine's queue already counts our requests it has seen; inflight covers those since the poll.
        return max(self.queue, float(self.inflight))

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "healthy": self.healthy, "queue": self.queue, "inflight": self.inflight}


def pick(endpoints: Sequence[Endpoint], exclude: Iterable[Endpoint] = ()) -> Endpoint | None:
    """The healthy endpoint with the least load (ties: the one used least recently); else any left to try."""
    left = [e for e in endpoints if all(e is not x for x in exclude)]
    healthy = [e for e in left if e.healthy]
    choices = healthy or left  # all marked down: one may be back before the next poll
    return min(choices, key=lambda e: (e.load, e.order)) if choices else None


def queue_depth(metrics_text: str) -> float:
    figures = engine_log.engine_figures(metrics_text)
    return figures.get("requests_running", 0.0) + figures.get("requests_waiting", 0.0)


@dataclass
class EndpointPool:
    """The ModelClient interface the chat service uses, spread over several endpoints."""

    urls: Sequence[str]
    api_key: str | None = None
    model: str | None = None
    timeout: float = 600.0
    endpoints: list[Endpoint] = field(init=False)
    _poller: asyncio.Task[None] | None = field(default=None, init=False)
    _turns: itertools.count[int] = field(default_factory=itertools.count, init=False)

    def __post_init__(self) -> None:
        self.endpoints = [
            Endpoint(ModelClient(url, api_key=self.api_key, model=self.model, timeout=self.timeout))
            for url in self.urls
        ]

    @property
    def base_url(self) -> str:
        return self.endpoints[0].url

    @property
    def context_length(self) -> int | None:
        """The smallest context any endpoint has reported: a prompt that fits it fits them all."""
        known = [e.client.context_length for e in self.endpoints if e.client.context_length is not None]
        return min(known, default=None)

    def start(self) -> None:
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll_forever(), name="endpoint-poll")

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.gather(*(self._poll(e) for e in self.endpoints))
            await asyncio.sleep(POLL_SECONDS)

    async def _poll(self, endpoint: Endpoint) -> None:
        try:
            health = await endpoint.client.aprobe("/health", seconds=POLL_TIMEOUT)
            metrics = await endpoint.client.aprobe("/metrics", seconds=POLL_TIMEOUT)
        except httpx2.HTTPError as exc:
            self._mark(endpoint, healthy=False, error=f"{type(exc).__name__}: {exc}")
            return
        if health.status_code != 200:
            self._mark(endpoint, healthy=False, error=f"/health answered {health.status_code}")
            return
        try:
            endpoint.queue = queue_depth(metrics.text) if metrics.status_code == 200 else 0.0
        except ValueError:  # not Prometheus text (a router without vLLM's metrics): route by inflight only
            endpoint.queue = 0.0
        self._mark(endpoint, healthy=True)

    def _mark(self, endpoint: Endpoint, *, healthy: bool, error: str | None = None) -> None:
        if endpoint.healthy != healthy:
            log.warning("engine endpoint %s is %s (%s)", endpoint.url, "up" if healthy else "down", error or "ok")
        endpoint.healthy, endpoint.error = healthy, error

    def report(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.endpoints]

    @contextlib.asynccontextmanager
    async def _using(self, endpoint: Endpoint) -> AsyncIterator[Endpoint]:
        endpoint.inflight += 1
        endpoint.order = next(self._turns)
        try:
            yield endpoint
        finally:
            endpoint.inflight -= 1

    async def _first_answering(self, call: str, *args: Any, **kwargs: Any) -> Any:
        """Call `call` on the least-loaded endpoint, moving on while endpoints refuse connections."""
        tried: list[Endpoint] = []
        while (endpoint := pick(self.endpoints, tried)) is not None:
            tried.append(endpoint)
            async with self._using(endpoint):
                try:
                    return await getattr(endpoint.client, call)(*args, **kwargs)
                except EngineUnreachable as exc:
                    self._mark(endpoint, healthy=False, error=exc.message)
        raise EngineUnreachable(f"No engine endpoint answers ({len(tried)} tried): {self._errors()}")

    # -- the interface ChatService uses --------------------------------------

    async def amodel_name(self) -> str:
        name: str = await self._first_answering("amodel_name")
        return name

    async def athink_prefix(self) -> str | None:
        prefix: str | None = await self._first_answering("athink_prefix")
        return prefix

    async def acount_tokens(
        self, messages: Iterable[Mapping[str, object]], *, math: bool = False, prefix: str | None = None
    ) -> TokenCount | None:
        count: TokenCount | None = await self._first_answering(
            "acount_tokens", list(messages), math=math, prefix=prefix
        )
        return count

    async def astream(
        self,
        messages: Iterable[Mapping[str, object]],
        sampling: Sampling = RECOMMENDED,
        *,
        prefix: str | None = None,
        answer_only: bool = False,
        pace: float | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Stream from the least-loaded endpoint; one that refuses before the first piece is skipped."""
        messages = list(messages)
        options: dict[str, Any] = {"prefix": prefix, "answer_only": answer_only, "pace": pace}
        tried: list[Endpoint] = []
        while (endpoint := pick(self.endpoints, tried)) is not None:
            tried.append(endpoint)
            started = False
            async with self._using(endpoint):
                try:
                    async for event in endpoint.client.astream(messages, sampling, **options):
                        started = True
                        yield event
                    return
                except EngineUnreachable as exc:
                    if started:
                        raise
                    self._mark(endpoint, healthy=False, error=exc.message)
        raise EngineUnreachable(f"No engine endpoint answers ({len(tried)} tried): {self._errors()}")

    def _errors(self) -> str:
        return "; ".join(f"{e.url}: {e.error}" for e in self.endpoints if e.error) or "no reason known"

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for endpoint in self.endpoints:
            await endpoint.client.aclose()
