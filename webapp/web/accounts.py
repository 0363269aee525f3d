"""Sign-in, sign-out, who am I, API tokens, user admin and engine controls (REST, thin).

The same session cookie serves the UI and the API; scripts use API tokens.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import Field, StrictBool, StrictStr

from webapp.auth import admin as rules
from webapp.auth.accounts import Identity
from webapp.auth.authenticator import SESSION_COOKIE, Authenticator, admin, cookie_flags, identity
from webapp.engine.supervisor import Engine
from webapp.errors import AppError, Forbidden, InvalidInput, MalformedBody, RateLimited, Unauthorized
from webapp.web.api import StrictBody
from webapp.web.pages import SECURITY_HEADERS, login_page, safe_next


def account(request: Request) -> Identity:
    """A signed-in user (API tokens belong to accounts, not to anonymous browsers)."""
    found = identity(request)
    if found.user_id is None:
        raise Forbidden("API tokens need accounts.", hint="Set ADMIN_PASSWORD or USERS_FILE and sign in.")
    return found


class NewToken(StrictBody):
    name: StrictStr = Field("", max_length=100)


class NewUser(StrictBody):
    name: StrictStr = Field(min_length=1, max_length=64)
    password: StrictStr = Field(min_length=1, max_length=1024)
    is_admin: StrictBool = False


class NewPassword(StrictBody):
    password: StrictStr = Field(min_length=1, max_length=1024)


async def _credentials(request: Request) -> tuple[str, str, str]:
    """Name, password and where to go next, from a form or a JSON body."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:  # RecursionError: arrays or objects nested thousands deep
            raise MalformedBody("The request body is not valid JSON in UTF-8.") from exc
        if not isinstance(body, dict):
            raise InvalidInput('Send {"name": ..., "password": ...}.')
        values = [body.get("name"), body.get("password"), body.get("next", "/")]
    else:
        form = await request.form()
        values = [form.get("name"), form.get("password"), form.get("next", "/")]
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput("A name and a password are needed, as text.")
    name, password, next_path = (str(v) for v in values)
    if not name.strip() or not password or len(name) > 64 or len(password) > 1024:
        raise InvalidInput("A name (up to 64 characters) and a password (up to 1024) are needed.")
    return name.strip(), password, next_path


def account_router(auth: Authenticator, engine: Engine) -> APIRouter:
    router = APIRouter(tags=["accounts"])
    accounts = auth.accounts

    def login_html(status: int, **page: Any) -> HTMLResponse:
        return HTMLResponse(login_page(**page), status_code=status, headers=SECURITY_HEADERS)

    @router.get("/login", include_in_schema=False)
    async def login_form(next: str = "/") -> Response:
        if not auth.required:
            return RedirectResponse(safe_next(next), status_code=303)
        return login_html(200, next_path=safe_next(next))

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        wants_json = request.headers.get("content-type", "").startswith("application/json")
        name, next_path = "", "/"
        try:
            name, password, next_path = await _credentials(request)
            client = request.client.host if request.client else None
            who = await auth.sign_in(name, password, client)
            if who is None:
                raise Unauthorized("Wrong user name or password.")
        except AppError as exc:
            if wants_json:
                raise
            page = login_html(exc.status, error=str(exc), name=name, next_path=safe_next(next_path))
            if isinstance(exc, RateLimited):
                page.headers["Retry-After"] = str(exc.retry_after)
            return page
        token = await asyncio.to_thread(accounts.start_session, who)
        response: Response = (
            Response(json.dumps({"name": who.name, "is_admin": who.is_admin}), media_type="application/json")
            if wants_json
            else RedirectResponse(safe_next(next_path), status_code=303)
        )
        secure = request.url.scheme == "https"
        response.headers.append(
            "set-cookie", f"{SESSION_COOKIE}={token}; " + cookie_flags(accounts.session_ttl, secure=secure)
        )
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            auth.forget(token)
            await asyncio.to_thread(accounts.end_session, token)
        response = RedirectResponse("/login" if auth.required else "/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/api/me")
    async def me(request: Request) -> dict[str, Any]:
        who = identity(request)
        return {"name": who.name, "is_admin": who.is_admin, "accounts": auth.required}

    @router.get("/api/tokens")
    async def tokens(request: Request) -> list[dict[str, Any]]:
        return await asyncio.to_thread(accounts.tokens, account(request))

    @router.post("/api/tokens", status_code=201)
    async def new_token(request: Request, body: NewToken | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(accounts.create_token, account(request), (body or NewToken()).name)

    @router.delete("/api/tokens/{token_id}", status_code=204)
    async def revoke_token(request: Request, token_id: int) -> Response:
        await asyncio.to_thread(accounts.revoke_token, account(request), token_id)
        return Response(status_code=204)

    @router.get("/api/users")
    async def users(request: Request) -> list[dict[str, Any]]:
        admin(request)
        return [u.as_dict() for u in await asyncio.to_thread(accounts.users)]

    @router.post("/api/users", status_code=201)
    async def new_user(request: Request, body: NewUser) -> dict[str, Any]:
        admin(request)
        _require_accounts(auth)
        info = await asyncio.to_thread(accounts.create_user, body.name, body.password, is_admin=body.is_admin)
        return info.as_dict()

    @router.put("/api/users/{name}/password", status_code=204)
    async def set_password(request: Request, name: str, body: NewPassword) -> Response:
        """A new password; it ends the user's sessions and API tokens."""
        admin(request)
        await asyncio.to_thread(accounts.set_password, name, body.password)
        auth.forget_user(name)
        return Response(status_code=204)

    @router.post("/api/users/{name}/sign-out", status_code=204)
    async def sign_out_everywhere(request: Request, name: str) -> Response:
        """End every session and API token of the user; their password stays."""
        admin(request)
        await asyncio.to_thread(accounts.sign_out_everywhere, name)
        auth.forget_user(name)
        return Response(status_code=204)

    @router.delete("/api/users/{name}", status_code=204)
    async def delete_user(request: Request, name: str) -> Response:
        """Delete the user with their conversations, settings, share links, sessions and API tokens."""
        await asyncio.to_thread(rules.delete_user, accounts, identity(request), name)
        auth.forget_user(name)
        return Response(status_code=204)

    @router.post("/api/engine/restart", status_code=202)
    async def restart_engine(request: Request) -> dict[str, str]:
        rules.restart_engine(identity(request), engine)
        return {"status": "restarting"}

    return router


def _require_accounts(auth: Authenticator) -> None:
    if not auth.required:
        raise InvalidInput(
            "Accounts are off, so new users could not sign in.", hint="Set ADMIN_PASSWORD or USERS_FILE first."
        )
