"""What only an admin may do, and the rules that bind admins too: one place for the API and the page."""

from __future__ import annotations

from webapp.auth.accounts import Accounts, Identity
from webapp.engine.supervisor import Engine
from webapp.errors import Forbidden, InvalidInput


def require_admin(who: Identity) -> Identity:
    """`who`, if an admin (with accounts, by their account; without, a person on this machine)."""
    if not who.is_admin:
        raise Forbidden("Only an admin may do this.", code="admin_only")
    return who


def delete_user(accounts: Accounts, who: Identity, name: str) -> None:
    """An admin deletes a user and all that is theirs; never their own account (no way back in)."""
    if require_admin(who).name == name:
        raise InvalidInput("You cannot delete your own account.", code="own_account")
    accounts.delete_user(name)


def restart_engine(who: Identity, engine: Engine) -> None:
    """An admin restarts the engine; it goes on after the request that asked for it has been answered."""
    require_admin(who)
    engine.restart_soon()
