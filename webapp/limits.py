"""Rate limits: at most `count` events per `window` seconds for each key (pure, in memory).

Each app process keeps its own counts; several replicas behind a balancer each
allow the limit (documented in the README).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from webapp.errors import RateLimited

_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    window: float  # seconds

    def __str__(self) -> str:
        return f"{self.count} per {_period(self.window)}"


def parse_rate(text: str) -> Rate | None:
    """`"20/minute"`, `"5/10minutes"` or `"1000/day"` as a Rate; `"0"` or empty means no limit."""
    if text.strip() in ("", "0", "off"):
        return None
    match = _RATE.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a rate such as 20/minute, 5/10minutes or 1000/day")
    count, per, unit = int(match[1]), int(match[2] or 1), match[3]
    if count < 1 or per < 1:
        raise ValueError(f"{text!r}: the count and the period must be at least 1, as in 20/minute")
    return Rate(count, per * _UNITS[unit])


class RateLimiter:
    """A sliding window of recent events per key."""

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self._max_keys:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.rate.window:
            events.popleft()
        return events

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may act again; 0 when it may act now."""
        now = self._clock()
        events = self._recent(key, now)
        if len(events) < self.rate.count:
            return 0.0
        return max(events[0] + self.rate.window - now, 0.001)

    def hit(self, key: str) -> float:
        """Count one event for `key` if allowed; returns 0, or the seconds to wait when refused."""
        wait = self.retry_after(key)
        if wait == 0:
            self._events[key].append(self._clock())
        return wait

    def reset(self, key: str) -> None:
        self._events.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        # Bounded memory under many keys (e.g. a scan from many addresses): drop expired windows.
        for key in [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.rate.window]:
            del self._events[key]


class Admission:
    """Acts (chat turns, new conversations) allowed per owner (user or anonymous browser) and per network address."""

    def __init__(
        self,
        per_owner: Rate | None,
        per_address: Rate | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        acts: str = "messages",
        verb: str = "send",
    ) -> None:
        self._owners = RateLimiter(per_owner, clock=clock) if per_owner else None
        self._addresses = RateLimiter(per_address, clock=clock) if per_address else None
        self._acts, self._verb = acts, verb  # as the refusal names them: "Too many messages: you may send ..."

    def admit(self, owner: str, address: str | None) -> None:
        """Count one act, or raise RateLimited saying which limit was reached and when to retry."""
        checks = [(self._owners, owner, "you"), (self._addresses, address, "your network address")]
        for limiter, key, who in checks:
            if limiter is None or key is None:
                continue
            wait = limiter.retry_after(key)
            if wait > 0:
                raise RateLimited(
                    f"Too many {self._acts}: {who} may {self._verb} {limiter.rate.count} "
                    f"per {_period(limiter.rate.window)}.",
                    retry_after=wait,
                    hint=f"Try again in {max(1, round(wait))} s.",
                )
        for limiter, key, _who in checks:
            if limiter is not None and key is not None:
                limiter.hit(key)


def _period(seconds: float) -> str:
    for unit, size in reversed(_UNITS.items()):
        if seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"
