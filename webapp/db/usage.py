"""Tokens spent per owner and UTC day, and the quotas admins set for one owner.

A day is a UTC date (`YYYY-MM-DD`): quotas reset at midnight UTC for everyone, wherever they are.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webapp.db.database import Database
from webapp.db.tables import Quota, Usage
from webapp.errors import QuotaExceeded


def day_of(seconds: float) -> str:
    """The UTC date of a moment, as the usage table keys it."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d")


def next_midnight(seconds: float) -> float:
    """The next midnight UTC after a moment: when a day's quota starts again."""
    today = dt.datetime.fromtimestamp(seconds, dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()


@dataclass(frozen=True, slots=True)
class DayUsage:
    """What one owner spent on one day."""

    owner: str
    day: str
    prompt_tokens: int
    completion_tokens: int
    turns: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "turns": self.turns,
        }


def add_usage(db: Connection, owner: str, prompt: int, completion: int, *, now: float | None = None) -> None:
    """Add one turn's tokens to the owner's day, in the caller's transaction (with its answer, when it has one)."""
    values: dict[str, Any] = {"owner": owner, "day": day_of(time.time() if now is None else now)}
    values |= {"prompt_tokens": prompt, "completion_tokens": completion, "turns": 1}
    insert = postgresql_insert if db.dialect.name == "postgresql" else sqlite_insert
    statement = insert(Usage).values(values)
    # One statement, so turns ending at once (on any replica) add up instead of overwriting each other.
    db.execute(
        statement.on_conflict_do_update(
            index_elements=[Usage.owner, Usage.day],
            set_={
                "prompt_tokens": Usage.prompt_tokens + statement.excluded.prompt_tokens,
                "completion_tokens": Usage.completion_tokens + statement.excluded.completion_tokens,
                "turns": Usage.turns + 1,
            },
        )
    )


SPENT = select(func.coalesce(func.sum(Usage.prompt_tokens + Usage.completion_tokens), 0)).where(
    Usage.owner == bindparam("owner"), Usage.day == bindparam("day")
)
OWN_QUOTA = select(Quota.daily_tokens).where(Quota.owner == bindparam("owner"))


def check_quota(db: Connection, owner: str, default: int | None, now: float) -> None:
    """Refuse (QuotaExceeded, 429) a turn of an owner who has spent their day's quota, on the caller's
    connection: their own quota if an admin set one, else `default` (None: no quota, nothing to read)."""
    own = db.execute(OWN_QUOTA, {"owner": owner}).first()
    limit = own[0] if own is not None else default
    if limit is None:
        return
    spent = int(db.scalar(SPENT, {"owner": owner, "day": day_of(now)}) or 0)
    if spent < limit:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(next_midnight(now)))
    raise QuotaExceeded(
        f"You have used your {limit:,} tokens for today ({spent:,} spent). The quota resets at {stamp} "
        "(midnight UTC); your message was not sent.",
        retry_after=next_midnight(now) - now,
        quota=limit,
        resets=stamp,
    )


class UsageBook:
    """The usage table and the per-owner quotas."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, owner: str, prompt: int, completion: int, *, now: float | None = None) -> None:
        """A turn with no answer to store with (an OpenAI client's, a temporary chat's)."""
        with self.database.transaction() as db:
            add_usage(db, owner, prompt, completion, now=now)

    def spent(self, owner: str, day: str) -> int:
        """Prompt and completion tokens the owner spent on `day`."""
        with self.database.connection() as db:
            return int(db.scalar(SPENT, {"owner": owner, "day": day}) or 0)

    def check(self, owner: str, default: int | None, now: float) -> None:
        """`check_quota` on a connection of its own (a turn that stores nothing before its answer)."""
        with self.database.connection() as db:
            check_quota(db, owner, default, now)

    def days(self, since: str, owner: str | None = None) -> list[DayUsage]:
        """Each owner's days from `since` on (one owner's alone, if named), newest first."""
        query = select(Usage).where(Usage.day >= since)
        if owner is not None:
            query = query.where(Usage.owner == owner)
        query = query.order_by(Usage.day.desc(), Usage.owner)
        with self.database.reading() as session:
            return [
                DayUsage(u.owner, u.day, u.prompt_tokens, u.completion_tokens, u.turns) for u in session.scalars(query)
            ]

    def quotas(self) -> dict[str, int | None]:
        """The owners with a quota of their own, and it (None: no quota for them)."""
        with self.database.reading() as session:
            return {q.owner: q.daily_tokens for q in session.scalars(select(Quota))}

    def quota(self, owner: str) -> tuple[bool, int | None]:
        """Whether the owner has a quota of their own, and it."""
        with self.database.reading() as session:
            found = session.get(Quota, owner)
            return (True, found.daily_tokens) if found is not None else (False, None)

    def set_quota(self, owner: str, daily_tokens: int | None) -> None:
        """The owner's own quota (None: none at all), over the default."""
        with self.database.writing() as session:
            found = session.get(Quota, owner)
            if found is None:
                session.add(Quota(owner=owner, daily_tokens=daily_tokens, updated_at=time.time()))
            else:
                found.daily_tokens, found.updated_at = daily_tokens, time.time()

    def clear_quota(self, owner: str) -> None:
        """The owner back on the default quota."""
        with self.database.writing() as session:
            session.execute(delete(Quota).where(Quota.owner == owner))
