"""Usage and quotas: each owner's tokens per UTC day, the quota that bounds them, and the report.

An owner is whoever the history belongs to: a signed-in user (`user:<id>`), an anonymous
browser without accounts (its cookie's id), or this machine's OpenAI clients without accounts
(`this-machine`). A day's quota is DAILY_TOKENS_PER_USER unless an admin set the owner one of
their own; it resets at midnight UTC.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from webapp.db.usage import DayUsage, UsageBook, day_of, next_midnight
from webapp.errors import InvalidInput

MAX_QUOTA = 10**12  # tokens a day: a bound for the input, far past what any engine makes
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class OwnerUsage:
    """One owner's usage over a period, with today's and their quota."""

    owner: str
    today_tokens: int
    prompt_tokens: int
    completion_tokens: int
    turns: int
    daily_quota: int | None  # None: no quota
    own_quota: bool  # an admin set it for this owner (else DAILY_TOKENS_PER_USER)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The days from `since` on: per owner (most tokens first) and per owner and day (newest first)."""

    since: str
    resets_at: float
    owners: list[OwnerUsage]
    days: list[DayUsage]


def quota_value(value: object) -> int | None:
    """A quota as an admin gave it: a whole number of tokens (0: nothing at all), or None for none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_QUOTA or value % 1:
        message = f"A daily quota is a whole number of tokens from 0 to {MAX_QUOTA:,}, or none."
        raise InvalidInput(message, code="quota_range", params={"limit": MAX_QUOTA})
    return int(value)


class Quotas:
    """The usage book, read, added to and bounded: the chat service checks it before a turn calls the model."""

    def __init__(self, book: UsageBook, default: int | None) -> None:
        self.book = book
        self.default = default

    async def spend(self, owner: str, spent: tuple[int, int] | None) -> None:
        """Count a turn that stores no answer (an OpenAI client's, a temporary chat's) against the owner's day."""
        if spent is not None:
            await asyncio.to_thread(self.book.record, owner, *spent)

    async def limit(self, owner: str) -> int | None:
        own, tokens = await asyncio.to_thread(self.book.quota, owner)
        return tokens if own else self.default

    async def check(self, owner: str, now: float | None = None) -> None:
        """Refuse (QuotaExceeded, 429) a turn of an owner who has spent their day's quota."""
        await asyncio.to_thread(self.book.check, owner, self.default, time.time() if now is None else now)

    async def set(self, owner: str, tokens: object) -> None:
        """An owner's own quota (None: no quota for them)."""
        await asyncio.to_thread(self.book.set_quota, owner, quota_value(tokens))

    async def reset(self, owner: str) -> None:
        """The owner back on DAILY_TOKENS_PER_USER."""
        await asyncio.to_thread(self.book.clear_quota, owner)

    async def report(self, days: object, owner: str | None = None, now: float | None = None) -> UsageReport:
        """The last `days` days (today included) of every owner's, or of `owner`'s alone."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"days is a whole number from 1 to {MAX_DAYS}.")
        now = time.time() if now is None else now
        since = day_of(now - (days - 1) * 86400)
        rows = await asyncio.to_thread(self.book.days, since, owner)
        own = await asyncio.to_thread(self.book.quotas)
        today = day_of(now)
        totals: dict[str, list[int]] = {}
        for row in rows:
            total = totals.setdefault(row.owner, [0, 0, 0, 0])
            total[0] += row.total_tokens if row.day == today else 0
            total[1] += row.prompt_tokens
            total[2] += row.completion_tokens
            total[3] += row.turns
        if owner is not None:
            totals.setdefault(owner, [0, 0, 0, 0])
        owners = [
            OwnerUsage(name, today_tokens, prompt, completion, turns, own.get(name, self.default), name in own)
            for name, (today_tokens, prompt, completion, turns) in totals.items()
        ]
        owners.sort(key=lambda o: (-o.total_tokens, o.owner))
        return UsageReport(since, next_midnight(now), owners, rows)


def owner_dict(usage: OwnerUsage, name: str | None) -> dict[str, Any]:
    return {
        "owner": usage.owner,
        "name": name,
        "today_tokens": usage.today_tokens,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "turns": usage.turns,
        "daily_quota": usage.daily_quota,
        "own_quota": usage.own_quota,
    }
