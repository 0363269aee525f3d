"""Anonymous owners: signed cookies that cannot be forged."""

from __future__ import annotations

import stat
from pathlib import Path

from webapp.auth.owner import load_secret, new_owner, sign, verify

SECRET = b"s" * 32


def test_a_signed_owner_verifies() -> None:
    owner = new_owner()
    assert verify(sign(owner, SECRET), SECRET) == owner


def test_forged_or_foreign_cookies_are_refused() -> None:
    owner = new_owner()
    cookie = sign(owner, SECRET)
    assert verify(cookie, b"another secret") is None
    assert verify(f"{new_owner()}.{cookie.rpartition('.')[2]}", SECRET) is None
    for bad in ("", None, "nodot", ".", f"{owner}.", "a.b.c"):
        assert verify(bad, SECRET) is None


def test_owners_are_unguessable() -> None:
    owners = {new_owner() for _ in range(100)}
    assert len(owners) == 100
    assert all(len(o) == 32 for o in owners)


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_secret(None, path)
    assert load_secret(None, path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret("configured", path) == b"configured"
