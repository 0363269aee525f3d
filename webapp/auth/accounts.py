"""Accounts: users, login sessions and API tokens, stored beside the history.

A user's conversations are owned by `user:<id>`, so the store's owner scoping
(every query names the owner) is what keeps one user out of another's history;
ids are never reused, and a deleted user's data goes with them. Session and API
tokens are random; only their SHA-256 is stored.

Users named by configuration (USERS_FILE, ADMIN_USER/ADMIN_PASSWORD) are managed
there only: `sync` applies it at every start and disables those it no longer
names. Admins manage the others, in the UI or the API.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from webapp.auth.passwords import MAX_PASSWORD_CHARS, UserSpec, hash_password, verify_password
from webapp.db.database import Database, hold_startup_lock
from webapp.db.tables import ApiToken, Conversation, LoginSession, Manager, OwnerSettings, Share, User
from webapp.db.text import storable, title_text
from webapp.errors import Conflict, InvalidInput, NotFound

NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_CHARS = 8
TOKEN_PREFIX = "r1c_"  # API tokens are recognisable in a leaked log or a secret scanner
# Verifying against this when the name is unknown makes a wrong name cost as much as a wrong password.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking: the owner their conversations belong to, and what they may do."""

    owner: str
    name: str | None  # None: an anonymous browser
    is_admin: bool
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    is_admin: bool
    created_at: float
    managed_by: str = Manager.UI  # "config": USERS_FILE or ADMIN_USER; "ui": an admin, in the UI or API
    disabled: bool = False  # configured once, not any more: cannot sign in

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "is_admin": self.is_admin,
            "created_at": self.created_at,
            "managed_by": self.managed_by,
            "disabled": self.disabled,
        }


def owner_id(user_id: int) -> str:
    return f"user:{user_id}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(user: User) -> UserInfo:
    return UserInfo(user.id, user.name, user.is_admin, user.created_at, user.managed_by, user.disabled)


def _identity(user: User) -> Identity:
    return Identity(owner_id(user.id), user.name, user.is_admin, user.id)


def is_text(value: str) -> bool:
    """True unless `value` holds a NUL or a lone surrogate (JSON's `\\ud800`): no database keeps those."""
    return storable(value) == value


def check_new_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(
            f"A password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters.",
            code="password_length",
            params={"low": MIN_PASSWORD_CHARS, "high": MAX_PASSWORD_CHARS},
        )
    if not is_text(password):
        raise InvalidInput("A password cannot hold NUL characters or lone surrogates.", code="password_chars")
    return password


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidInput("A user name is 1 to 64 letters, digits or `_ . @ -`.", code="user_name_rule")
    return name


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"There is no user named {name}.", code="no_user", params={"name": name})
    return user


def _managed_here(user: User) -> User:
    """The user, if admins manage them; configured users are changed in the configuration only."""
    if user.managed_by == Manager.CONFIG:
        raise Conflict(
            f"{user.name} comes from the configuration (USERS_FILE or ADMIN_USER), so it is managed there.",
            hint="Change their password in USERS_FILE or ADMIN_PASSWORD, or remove them there, then restart the app.",
            code="configured_user",
            params={"name": user.name},
        )
    return user


def _sign_out(session: Session, user_id: int) -> None:
    """End every session and API token of a user."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))


def _configure(session: Session, spec: UserSpec, password_hash: str) -> None:
    """Make the user `spec` names exactly as configured, enabled and managed by configuration."""
    user = session.scalar(select(User).where(User.name == spec.name))
    if user is None:
        user = User(name=spec.name, password_hash=password_hash, is_admin=spec.is_admin, managed_by=Manager.CONFIG)
        session.add(user)
        return
    if user.managed_by != Manager.CONFIG:
        # Whoever holds the admin-made account's sessions and tokens need not be whom the configuration names.
        log.warning("user %s was made in the UI; the configuration names them, and manages them from now on", user.name)
        user.managed_by = Manager.CONFIG
        user.password_hash = password_hash
        _sign_out(session, user.id)
    elif spec.password != user.password_hash and not verify_password(spec.password, user.password_hash):
        user.password_hash = password_hash
        _sign_out(session, user.id)
    user.is_admin = spec.is_admin
    user.disabled = False


class Accounts:
    """Every read and write of users, sessions and tokens."""

    def __init__(self, database: Database, *, session_ttl: float) -> None:
        self.session_ttl = session_ttl
        self.database = database

    # -- users ----------------------------------------------------------------

    def sync(self, specs: list[UserSpec]) -> None:
        """Apply the configuration (file or environment): it is the truth about the users it names.

        Named users are created or updated; configured users it no longer names are disabled (their
        sessions and tokens end, their data stays, naming them again brings them back). Users that
        admins made are left alone, unless the configuration names one: then it takes them over.
        """
        for spec in specs:
            check_name(spec.name)
        hashes = {spec.name: spec.password_hash for spec in specs}  # slow on purpose: before taking the lock
        with self.database.writing() as session:
            hold_startup_lock(session.connection())  # replicas starting at once: one creates, the others find
            for spec in specs:
                _configure(session, spec, hashes[spec.name])
            dropped = select(User).where(
                User.managed_by == Manager.CONFIG, User.disabled.is_(False), User.name.not_in(list(hashes))
            )
            for user in session.scalars(dropped):
                log.warning("user %s is no longer configured: disabled (their data is kept)", user.name)
                user.disabled = True
                _sign_out(session, user.id)

    def users(self) -> list[UserInfo]:
        with self.database.reading() as session:
            return [_info(u) for u in session.scalars(select(User).order_by(User.name))]

    def create_user(self, name: str, password: str, *, is_admin: bool = False) -> UserInfo:
        check_name(name)
        check_new_password(password)
        with self.database.writing() as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise Conflict(f"There is already a user named {name}.", code="user_exists", params={"name": name})
            user = User(
                name=name,
                password_hash=hash_password(password),
                is_admin=is_admin,
                created_at=time.time(),
                managed_by=Manager.UI,
            )
            session.add(user)
            session.flush()
            return _info(user)

    def delete_user(self, name: str) -> None:
        """Delete a user and, in the same transaction, all that is theirs: conversations (with their
        messages), settings, share links, sessions and API tokens."""
        with self.database.writing() as session:
            user = _managed_here(_user(session, name))
            admins = select(func.count()).where(User.is_admin, User.disabled.is_(False))
            if user.is_admin and session.scalar(admins) == 1:
                raise Conflict("This is the only admin: make another admin first.", code="only_admin")
            owner = owner_id(user.id)
            for owned in (Share, OwnerSettings, Conversation):  # messages go with their conversation
                session.execute(delete(owned).where(owned.owner == owner))
            _sign_out(session, user.id)
            session.delete(user)

    def set_password(self, name: str, password: str) -> None:
        """A new password ends the user's sessions and API tokens."""
        check_new_password(password)
        password_hash = hash_password(password)
        with self.database.writing() as session:
            user = _managed_here(_user(session, name))
            user.password_hash = password_hash
            _sign_out(session, user.id)

    def sign_out_everywhere(self, name: str) -> None:
        """End every session and API token of a user (configured users too: nothing of theirs changes)."""
        with self.database.writing() as session:
            _sign_out(session, _user(session, name).id)

    def authenticate(self, name: str, password: str) -> Identity | None:
        if NAME.fullmatch(name) is None or not is_text(password):
            # No user has such a name or password (and PostgreSQL refuses a NUL in a query): a
            # wrong one all the same, in the same time.
            verify_password("-", _DUMMY_HASH)
            return None
        with self.database.reading() as session:
            user = session.scalar(select(User).where(User.name == name))
        if user is None:
            verify_password(password, _DUMMY_HASH)
            return None
        if not verify_password(password, user.password_hash) or user.disabled:
            return None
        return _identity(user)

    # -- sessions -------------------------------------------------------------

    def start_session(self, identity: Identity) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.database.writing() as session:
            session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
            row = LoginSession(token_hash=digest(token), user_id=identity.user_id, created_at=now)
            row.expires_at = now + self.session_ttl
            session.add(row)
        return token

    def end_session(self, token: str) -> None:
        with self.database.writing() as session:
            session.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))

    def session(self, token: str) -> tuple[Identity, float] | None:
        """The user signed in with this session token and when it expires, unless it has ended."""
        with self.database.reading() as session:
            row = session.get(LoginSession, digest(token))
            if row is None or row.expires_at <= time.time():
                return None
            user = session.get(User, row.user_id)
            return (_identity(user), row.expires_at) if user is not None and not user.disabled else None

    def session_identity(self, token: str) -> Identity | None:
        found = self.session(token)
        return found[0] if found else None

    # -- API tokens -----------------------------------------------------------

    def create_token(self, identity: Identity, name: str) -> dict[str, Any]:
        """A new API token; its text is returned this once and never again."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.database.writing() as session:
            name = title_text(name, 100)  # one line of text, like a conversation's title
            row = ApiToken(token_hash=digest(token), user_id=identity.user_id, name=name, created_at=time.time())
            session.add(row)
            session.flush()
            return {"id": row.id, "name": name, "token": token, "created_at": row.created_at}

    def tokens(self, identity: Identity) -> list[dict[str, Any]]:
        with self.database.reading() as session:
            rows = session.scalars(select(ApiToken).where(ApiToken.user_id == identity.user_id).order_by(ApiToken.id))
            return [
                {"id": r.id, "name": r.name, "created_at": r.created_at, "last_used_at": r.last_used_at} for r in rows
            ]

    def revoke_token(self, identity: Identity, token_id: int) -> None:
        with self.database.writing() as session:
            row = session.get(ApiToken, token_id)
            if row is None or row.user_id != identity.user_id:
                raise NotFound("No such API token.", code="no_token")
            session.delete(row)

    def token_identity(self, token: str) -> Identity | None:
        with self.database.writing() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
            if row is None:
                return None
            user = session.get(User, row.user_id)
            if user is None or user.disabled:
                return None
            now = time.time()
            if row.last_used_at is None or now - row.last_used_at > 60:  # a write per minute, not per request
                row.last_used_at = now
            return _identity(user)
