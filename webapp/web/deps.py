"""Who may call a route, as FastAPI dependencies: a route names `Asker`, `Owner`, `AccountHolder` or `Admin`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from webapp.auth.accounts import Identity
from webapp.auth.admin import require_admin
from webapp.auth.authenticator import identity
from webapp.errors import Forbidden


def _owner(request: Request) -> str:
    return identity(request).owner


def _admin(request: Request) -> Identity:
    return require_admin(identity(request))


def _account(request: Request) -> Identity:
    """A signed-in user (API tokens belong to accounts, not to anonymous browsers)."""
    found = identity(request)
    if found.user_id is None:
        raise Forbidden("API tokens need accounts.", hint="Set ADMIN_PASSWORD or USERS_FILE and sign in.")
    return found


Asker = Annotated[Identity, Depends(identity)]
Owner = Annotated[str, Depends(_owner)]  # whose conversations the request reaches
AccountHolder = Annotated[Identity, Depends(_account)]
Admin = Annotated[Identity, Depends(_admin)]
