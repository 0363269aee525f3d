"""API tokens (one's own) and user admin and engine controls (admins): REST, thin over `auth`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from webapp.auth import admin as rules
from webapp.auth.authenticator import Authenticator
from webapp.engine.supervisor import Engine
from webapp.errors import InvalidInput
from webapp.web.deps import AccountHolder, Admin
from webapp.web.schemas import ERRORS, NewPassword, NewToken, NewTokenOut, NewUser, Restarting, TokenOut, UserOut


def tokens_router(auth: Authenticator) -> APIRouter:
    """`/api/tokens`: a signed-in user's tokens for scripts (`Authorization: Bearer r1c_...`)."""
    router = APIRouter(prefix="/api/tokens", tags=["accounts"], responses=ERRORS)
    accounts = auth.accounts

    @router.get("")
    async def tokens(who: AccountHolder) -> list[TokenOut]:
        return [TokenOut(**row) for row in await asyncio.to_thread(accounts.tokens, who)]

    @router.post("", status_code=201)
    async def new_token(who: AccountHolder, body: NewToken | None = None) -> NewTokenOut:
        """A new token; its text is in this answer and never again."""
        return NewTokenOut(**await asyncio.to_thread(accounts.create_token, who, (body or NewToken()).name))

    @router.delete("/{token_id}", status_code=204)
    async def revoke_token(who: AccountHolder, token_id: int) -> Response:
        await asyncio.to_thread(accounts.revoke_token, who, token_id)
        return Response(status_code=204)

    return router


def admin_router(auth: Authenticator, engine: Engine) -> APIRouter:
    """`/api/users` and `/api/engine/restart`: admins only (`webapp.auth.admin` holds the rules)."""
    router = APIRouter(tags=["admin"], responses=ERRORS)
    accounts = auth.accounts

    @router.get("/api/users")
    async def users(_: Admin) -> list[UserOut]:
        return [UserOut(**u.as_dict()) for u in await asyncio.to_thread(accounts.users)]

    @router.post("/api/users", status_code=201)
    async def new_user(_: Admin, body: NewUser) -> UserOut:
        if not auth.required:
            raise InvalidInput(
                "Accounts are off, so new users could not sign in.", hint="Set ADMIN_PASSWORD or USERS_FILE first."
            )
        info = await asyncio.to_thread(accounts.create_user, body.name, body.password, is_admin=body.is_admin)
        return UserOut(**info.as_dict())

    @router.put("/api/users/{name}/password", status_code=204)
    async def set_password(_: Admin, name: str, body: NewPassword) -> Response:
        """A new password; it ends the user's sessions and API tokens."""
        await asyncio.to_thread(accounts.set_password, name, body.password)
        auth.forget_user(name)
        return Response(status_code=204)

    @router.post("/api/users/{name}/sign-out", status_code=204)
    async def sign_out_everywhere(_: Admin, name: str) -> Response:
        """End every session and API token of the user; their password stays."""
        await asyncio.to_thread(accounts.sign_out_everywhere, name)
        auth.forget_user(name)
        return Response(status_code=204)

    @router.delete("/api/users/{name}", status_code=204)
    async def delete_user(who: Admin, name: str) -> Response:
        """Delete the user with their conversations, settings, share links, sessions and API tokens."""
        await asyncio.to_thread(rules.delete_user, accounts, who, name)
        auth.forget_user(name)
        return Response(status_code=204)

    @router.post("/api/engine/restart", status_code=202)
    async def restart_engine(who: Admin) -> Restarting:
        rules.restart_engine(who, engine)
        return Restarting(status="restarting")

    return router
