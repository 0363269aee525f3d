"""Signing in and out (a form or JSON; one session cookie for the page and the API), and who am I."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from webapp.auth.authenticator import SESSION_COOKIE, Authenticator, cookie_flags
from webapp.errors import AppError, InvalidInput, MalformedBody, RateLimited, Unauthorized
from webapp.language import LANG_COOKIE, LANGUAGES, Lang, chosen_language
from webapp.web.deps import Asker
from webapp.web.pages import SECURITY_HEADERS, login_page, safe_next
from webapp.web.schemas import ERRORS, Me


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
        raise InvalidInput("A name and a password are needed, as text.", code="sign_in_body")
    name, password, next_path = (str(v) for v in values)
    if not name.strip() or not password or len(name) > 64 or len(password) > 1024:
        raise InvalidInput(
            "A name (up to 64 characters) and a password (up to 1024) are needed.", code="sign_in_lengths"
        )
    return name.strip(), password, next_path


def language_of(request: Request) -> Lang:
    return chosen_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def sign_in_router(auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["accounts"], responses=ERRORS)
    accounts = auth.accounts

    def login_html(status: int, lang: Lang, **page: Any) -> HTMLResponse:
        return HTMLResponse(login_page(lang=lang, **page), status_code=status, headers=SECURITY_HEADERS)

    @router.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/", lang: str | None = None) -> Response:
        if not auth.required:
            return RedirectResponse(safe_next(next), status_code=303)
        next_lang = chosen_language(lang, None) if lang in LANGUAGES else None
        page = login_html(200, next_lang or language_of(request), next_path=safe_next(next))
        if next_lang is not None:  # kept as the chat page's switch keeps it (`webapp/language.py`)
            page.set_cookie(LANG_COOKIE, next_lang, max_age=365 * 24 * 3600, path="/", samesite="lax")
        return page

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        wants_json = request.headers.get("content-type", "").startswith("application/json")
        name, next_path = "", "/"
        try:
            name, password, next_path = await _credentials(request)
            client = request.client.host if request.client else None
            who = await auth.sign_in(name, password, client)
            if who is None:
                raise Unauthorized("Wrong user name or password.", code="wrong_password")
        except AppError as exc:
            if wants_json:
                raise
            lang = language_of(request)
            page = login_html(exc.status, lang, error=exc.text(lang), name=name, next_path=safe_next(next_path))
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
    async def me(who: Asker) -> Me:
        return Me(name=who.name, is_admin=who.is_admin, accounts=auth.required)

    return router
