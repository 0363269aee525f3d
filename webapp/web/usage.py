"""`/api/usage` (one's own tokens per day; an admin's: everyone's) and `/api/users/{name}/quota` (admins)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StrictInt

from webapp.auth.accounts import Accounts, owner_id
from webapp.chat.service import ChatService
from webapp.chat.usage import MAX_DAYS, MAX_QUOTA, owner_dict
from webapp.errors import NotFound
from webapp.web.deps import Admin, Asker
from webapp.web.schemas import ERRORS, StrictBody


class OwnerUsageOut(BaseModel):
    owner: str = Field(description="`user:<id>`, an anonymous browser's id, or `this-machine` (`/v1`, no accounts).")
    name: str | None = Field(description="The user's name; null for an owner without an account.")
    today_tokens: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    turns: int
    daily_quota: int | None = Field(description="Tokens a UTC day; null: no quota.")
    own_quota: bool = Field(description="Set for this user by an admin (else DAILY_TOKENS_PER_USER).")


class DayUsageOut(BaseModel):
    owner: str
    name: str | None
    day: str = Field(description="A UTC date, YYYY-MM-DD.")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    turns: int


class UsageOut(BaseModel):
    since: str = Field(description="The first day counted (UTC).")
    resets_at: float = Field(description="When today's quota starts again: the next midnight UTC (Unix time).")
    owners: list[OwnerUsageOut]
    days: list[DayUsageOut]


class NewQuota(StrictBody):
    daily_tokens: StrictInt | None = Field(ge=0, le=MAX_QUOTA, description="Tokens a UTC day; null: no quota.")


async def owner_names(accounts: Accounts) -> dict[str, str]:
    return {owner_id(user.id): user.name for user in await asyncio.to_thread(accounts.users)}


async def owner_named(accounts: Accounts, name: str) -> str:
    for owner, user in (await owner_names(accounts)).items():
        if user == name:
            return owner
    raise NotFound(f"There is no user named {name}.", code="no_user", params={"name": name})


def usage_router(service: ChatService, accounts: Accounts) -> APIRouter:
    router = APIRouter(tags=["usage"], responses=ERRORS)
    quotas = service.quotas

    @router.get("/api/usage")
    async def usage(who: Asker, days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30) -> UsageOut:
        """Tokens per UTC day over the last `days` days (today included): an admin's, every owner's; anyone
        else's, their own. The engine's counts; a stream cut short counts what came (docs/api.md)."""
        report = await quotas.report(days, None if who.is_admin else who.owner)
        names = await owner_names(accounts)
        return UsageOut(
            since=report.since,
            resets_at=report.resets_at,
            owners=[OwnerUsageOut(**owner_dict(o, names.get(o.owner))) for o in report.owners],
            days=[DayUsageOut(owner=d.owner, name=names.get(d.owner), **d.as_dict()) for d in report.days],
        )

    @router.put("/api/users/{name}/quota", status_code=204)
    async def set_quota(_: Admin, name: str, body: NewQuota) -> Response:
        """The user's own daily quota, over DAILY_TOKENS_PER_USER (null: no quota for them)."""
        await quotas.set(await owner_named(accounts, name), body.daily_tokens)
        return Response(status_code=204)

    @router.delete("/api/users/{name}/quota", status_code=204)
    async def reset_quota(_: Admin, name: str) -> Response:
        """The user back on DAILY_TOKENS_PER_USER."""
        await quotas.reset(await owner_named(accounts, name))
        return Response(status_code=204)

    return router
