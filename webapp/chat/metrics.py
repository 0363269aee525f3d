"""The app's own Prometheus metrics, served at `GET /metrics` (the engine has its own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class ChatMetrics:
    """Counters for chat turns; one registry per app, so tests and replicas never share one."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("r1chat_chat_requests", "Chat turns started.", registry=self.registry)
        self.errors = Counter(
            "r1chat_chat_errors", "Chat turns that ended in an error.", ["kind"], registry=self.registry
        )
        self.active = Gauge("r1chat_active_streams", "Answers being streamed now.", registry=self.registry)
        self.ttft = Histogram(
            "r1chat_time_to_first_token_seconds",
            "From the request to the engine until the first piece of the answer.",
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.tokens = Counter(
            "r1chat_tokens_streamed", "Pieces of thinking and answer streamed.", registry=self.registry
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
