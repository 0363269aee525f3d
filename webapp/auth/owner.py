"""Anonymous owners: each browser gets a long-lived signed cookie naming its own owner id.

No login is needed to keep two browsers apart: conversations belong to the owner in
the cookie, and a cookie cannot be forged without the server's secret. (`auth` issues it.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

ANONYMOUS_MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days


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
