"""Password hashing with scrypt (memory-hard, in the standard library), and the users file.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt>$<key>` (base64), so the cost can
be raised later without breaking hashes already stored.

`python -m webapp.auth.passwords` prints the hash of a password typed at the prompt,
for a users file that should not hold clear-text passwords.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# 2**14 * 8 * 128 bytes = 16 MiB of memory per hash: costly to brute-force on a GPU.
N, R, P = 2**14, 8, 1
PREFIX = "scrypt"
MAX_PASSWORD_CHARS = 1024  # hashing cost must not be a lever for a denial of service


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{PREFIX}${N}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, N, R, P))}"


def is_hash(text: str) -> bool:
    return text.startswith(PREFIX + "$") and text.count("$") == 5


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; a malformed hash matches nothing."""
    if len(password) > MAX_PASSWORD_CHARS or not is_hash(stored):
        return False
    try:
        _, n, r, p, salt, key = stored.split("$")
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, base64.b64decode(key))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class UserSpec:
    """A user named in the users file or the environment."""

    name: str
    password: str  # clear text or a scrypt hash
    is_admin: bool = False

    @property
    def password_hash(self) -> str:
        return self.password if is_hash(self.password) else hash_password(self.password)


def parse_users(text: str) -> list[UserSpec]:
    """Users from a file's text: one `name:password[:admin]` per line; `#` starts a comment.

    The password may be a hash from `python -m webapp.auth.passwords`. A line that
    cannot be read is an error naming its number: a user silently missing would
    be worse than an app that refuses to start.
    """
    users: list[UserSpec] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        password, role = rest, ""
        if rest.endswith(":admin"):
            password, role = rest[: -len(":admin")], "admin"
        if not sep or not name.strip() or not password:
            raise ValueError(f"line {number}: expected `name:password` or `name:password:admin`")
        users.append(UserSpec(name.strip(), password, role == "admin"))
    return users


def main() -> None:
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Again: "):
        raise SystemExit("The two passwords differ.")
    print(hash_password(password))


if __name__ == "__main__":
    main()
