"""Who is asking: one answer for the UI, the REST API and share pages.

Without accounts (the default, for a machine of one's own) each browser is an
anonymous owner kept apart by a signed cookie, and only requests from this
machine may use the admin pages. With accounts (ADMIN_PASSWORD or USERS_FILE),
every request but the login page, health probes and share links needs a session
cookie (browsers) or an API token (`Authorization: Bearer r1c_...`, scripts).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.auth.accounts import Accounts, Identity
from webapp.auth.gate import from_this_machine
from webapp.auth.owner import ANONYMOUS_MAX_AGE, new_owner, sign, verify
from webapp.errors import RateLimited, Unauthorized
from webapp.limits import Rate, RateLimiter

SESSION_COOKIE = "r1chat_session"
OWNER_COOKIE = "r1chat_owner"
# Reachable without signing in. Nothing here reveals a conversation except by its share token.
PUBLIC_PATHS = ("/login", "/healthz", "/readyz", "/metrics", "/favicon.ico")
PUBLIC_PREFIXES = ("/s/",)
_CACHE_SECONDS = 5.0  # a session lookup per Gradio event is cheap, but not needed
# A name's failed sign-ins from every address delay its next checks, from this to at most that (seconds).
SLOW_DOWN_FIRST = 0.25
SLOW_DOWN_MAX = 4.0
_SLOW_DOWN_STEPS = 1 + math.ceil(math.log2(SLOW_DOWN_MAX / SLOW_DOWN_FIRST))


def cookie_flags(max_age: float, *, secure: bool) -> str:
    return f"Max-Age={int(max_age)}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")


def identity(request: Request) -> Identity:
    """The asker (the middleware already turned away those who must sign in)."""
    found: Identity | None = getattr(request.state, "identity", None)
    if found is None:
        raise Unauthorized("Sign in first.", code="sign_in_first")
    return found


def slow_down(failures: int, *, free: int) -> float:
    """Seconds to wait before checking a password for a name with `failures` recent failures:
    none for the first `free` (one's own typos), then doubling up to SLOW_DOWN_MAX."""
    if failures < free:
        return 0.0
    return min(SLOW_DOWN_MAX, SLOW_DOWN_FIRST * 2.0 ** min(failures - free, _SLOW_DOWN_STEPS))


class _Failures(RateLimiter):
    """Failed sign-ins per name over LOGIN_RATE's window, from any address (what `slow_down` reads)."""

    def __init__(self, rate: Rate) -> None:
        # Counted no further than where the slow-down stops growing: memory stays small under a flood.
        super().__init__(Rate(rate.count + _SLOW_DOWN_STEPS, rate.window))

    def count(self, key: str) -> int:
        return len(self._recent(key, self._clock()))


class Authenticator:
    """Turns cookies and headers into an Identity, and keeps sign-in attempts in check."""

    def __init__(self, accounts: Accounts, secret: bytes, *, required: bool, login_limiter: RateLimiter | None) -> None:
        self.accounts = accounts
        self.secret = secret
        self.required = required
        self.login_limiter = login_limiter
        self._failures = _Failures(login_limiter.rate) if login_limiter is not None else None
        self._sessions: dict[str, tuple[Identity | None, float]] = {}

    async def identify(self, cookies: Mapping[str, str], authorization: str | None, *, local: bool) -> Identity | None:
        """The asker, or None when they must sign in (or sent a token that is not valid).

        `local`: the request comes from a person on this machine (`gate.from_this_machine`),
        whom open mode trusts as admin. Database lookups run in a worker thread, never on the loop.
        """
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            return await asyncio.to_thread(self.accounts.token_identity, token.strip())
        session = cookies.get(SESSION_COOKIE)
        if session:
            identity = await self._session_identity(session)
            if identity is not None:
                return identity
        if self.required:
            return None
        owner = verify(cookies.get(OWNER_COOKIE), self.secret)
        if owner is None:
            return None
        return Identity(owner, None, is_admin=local)

    async def _session_identity(self, token: str) -> Identity | None:
        now = time.monotonic()
        cached = self._sessions.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await asyncio.to_thread(self.accounts.session, token)
        now = time.monotonic()
        if len(self._sessions) > 10_000:
            self._sessions.clear()
        # Kept a few seconds, never past the session's end. Sign-out in this process forgets it at once.
        until = now + min(_CACHE_SECONDS, found[1] - time.time()) if found else now + _CACHE_SECONDS
        self._sessions[token] = (found[0] if found else None, until)
        return found[0] if found else None

    def forget(self, token: str) -> None:
        self._sessions.pop(token, None)

    def forget_user(self, name: str) -> None:
        """Drop cached sessions of a user whose password changed or who was deleted."""
        for token in [t for t, (who, _) in self._sessions.items() if who is not None and who.name == name]:
            del self._sessions[token]

    async def sign_in(self, name: str, password: str, client: str | None) -> Identity | None:
        """Check a name and password.

        Refused with RateLimited past LOGIN_RATE attempts from one address, or for one name from one
        address (a success clears the latter). A name's failures from every address only slow its
        checks down, never refuse them: wrong passwords sent from elsewhere cannot lock the owner out.
        """
        limiter, failures = self.login_limiter, self._failures
        if limiter is None or failures is None:
            return await asyncio.to_thread(self.accounts.authenticate, name, password)
        pair = f"pair:{client} {name.lower()}"  # an address has no space: the key reads one way only
        keys = [f"address:{client}", pair]
        wait = max(limiter.retry_after(key) for key in keys)
        if wait > 0:
            raise RateLimited(
                "Too many sign-in attempts.", retry_after=wait, hint=f"Wait {max(1, round(wait))} s and try again."
            )
        for key in keys:  # counted before the check: attempts sent at once are all counted
            limiter.hit(key)
        await asyncio.sleep(slow_down(failures.count(name.lower()), free=limiter.rate.count))
        identity = await asyncio.to_thread(self.accounts.authenticate, name, password)
        if identity is None:
            failures.hit(name.lower())
        else:
            limiter.reset(pair)
        return identity


def request_cookies(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    # Starlette's parser, as `Request.cookies` reads them: lenient like a browser (a malformed cookie
    # of another site on this host spoils only itself), and cheaper per request than http.cookies.
    cookies: dict[str, str] = {}
    for name, value in headers:
        if name == b"cookie":
            cookies.update(cookie_parser(value.decode("latin-1")))
    return cookies


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class AuthMiddleware:
    """Puts the Identity in `scope["state"]`; turns away those who must sign in first."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.auth = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        cookies = request_cookies(headers)
        client = scope["client"][0] if scope.get("client") else None
        authorization = _header(headers, b"authorization")
        local = from_this_machine(client, Headers(raw=headers))
        identity = await self.auth.identify(cookies, authorization, local=local)
        issue_owner = False
        if identity is None and not self.auth.required and not authorization:
            identity = Identity(new_owner(), None, is_admin=local)
            issue_owner = True
        state = scope.setdefault("state", {})
        state["identity"] = identity
        if identity is None and not _is_public(scope.get("path", "")):
            await self._turn_away(scope, send, bad_token=bool(authorization))
            return
        if not issue_owner or identity is None:
            await self.app(scope, receive, send)
            return
        cookie = f"{OWNER_COOKIE}={sign(identity.owner, self.auth.secret)}; " + cookie_flags(
            ANONYMOUS_MAX_AGE, secure=scope.get("scheme") == "https"
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _turn_away(self, scope: Scope, send: Send, *, bad_token: bool) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        path = scope.get("path", "/")
        accept = _header(scope.get("headers", []), b"accept") or ""
        if scope.get("method") == "GET" and "text/html" in accept and not path.startswith("/api/"):
            target = quote(path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""))
            headers = [(b"location", f"/login?next={target}".encode()), (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        message = "The API token is not valid (or was revoked)." if bad_token else "Sign in first."
        hint = "Sign in at /login, or send Authorization: Bearer <API token>."
        body = json.dumps({"error": {"kind": "unauthorized", "message": message, "hint": hint}}).encode()
        headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
