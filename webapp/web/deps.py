"""Who may call a route, as FastAPI dependencies: a route names `Asker`, `Owner`, `AccountHolder` or `Admin`.

Each is a coroutine though none waits for anything: FastAPI hands a plain function to a worker
thread, a hop per request that on a busy machine waits for a core before the route even starts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from webapp.auth.accounts import Identity
from webapp.auth.admin import require_admin
from webapp.auth.authenticator import identity
from webapp.errors import Forbidden


async def _asker(request: Request) -> Identity:
    return identity(request)


async def _owner(request: Request) -> str:
    return identity(request).owner


async def _admin(request: Request) -> Identity:
    return require_admin(identity(request))


async def _account(request: Request) -> Identity:
    """A signed-in user (API tokens belong to accounts, not to anonymous browsers)."""
    found = identity(request)
    if found.user_id is None:
        raise Forbidden("API tokens need accounts.", hint="Set ADMIN_PASSWORD or USERS_FILE and sign in.")
    return found


Asker = Annotated[Identity, Depends(_asker)]
Owner = Annotated[str, Depends(_owner)]  # whose conversations the request reaches
AccountHolder = Annotated[Identity, Depends(_account)]
Admin = Annotated[Identity, Depends(_admin)]
