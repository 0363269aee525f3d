"""Anonymous owners: each browser gets a long-lived signed cookie naming its own owner id.

No login is needed to keep two browsers apart: conversations belong to the owner in
the cookie, and a cookie cannot be forged without the server's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "r1chat_owner"
MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days


def load_secret(configured: str | None, path: Path) -> bytes:
    """The signing secret: configured, or made once and kept in the data directory."""
    if configured:
        return configured.encode()
    if path.is_file():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode()
    path.touch(mode=0o600)
    path.write_bytes(secret)
    return secret


def sign(owner: str, secret: bytes) -> str:
    mac = hmac.new(secret, owner.encode(), hashlib.sha256).hexdigest()
    return f"{owner}.{mac}"


def verify(cookie: str | None, secret: bytes) -> str | None:
    """The owner id in a cookie, or None if it is missing or was not signed by us."""
    if not cookie or "." not in cookie:
        return None
    owner, _, mac = cookie.rpartition(".")
    expected = hmac.new(secret, owner.encode(), hashlib.sha256).hexdigest()
    return owner if owner and hmac.compare_digest(mac, expected) else None


def new_owner() -> str:
    return secrets.token_hex(16)


def owner_from_cookies(cookies: dict[str, str], secret: bytes) -> str | None:
    return verify(cookies.get(COOKIE), secret)


class OwnerMiddleware:
    """Puts the owner id in `scope["state"]["owner"]`, issuing a new signed cookie when needed."""

    def __init__(self, app: ASGIApp, secret: bytes, *, secure: bool = False) -> None:
        self.app = app
        self.secret = secret
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _request_cookies(scope)
        owner = owner_from_cookies(cookies, self.secret)
        issue = owner is None
        if owner is None:
            owner = new_owner()
        scope.setdefault("state", {})["owner"] = owner

        async def send_with_cookie(message: Message) -> None:
            if issue and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                flags = f"Max-Age={MAX_AGE}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
                headers.append("set-cookie", f"{COOKIE}={sign(owner, self.secret)}; {flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _request_cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is the same as none
                continue
    return {key: morsel.value for key, morsel in jar.items()}
