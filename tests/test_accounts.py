"""Accounts and share links in a real database (a SQLite file, or PostgreSQL with TEST_DATABASE_URL):
users, sessions, tokens, snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from webapp.accounts import Accounts, Identity, digest, owner_id
from webapp.errors import Conflict, InvalidInput, NotFound
from webapp.models import LoginSession, MessageState, Share, User
from webapp.passwords import UserSpec, hash_password
from webapp.store import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    yield store
    store.close()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store.engine, session_ttl=3600)


def test_a_user_signs_in_with_the_right_password_only(accounts: Accounts) -> None:
    info = accounts.create_user("alice", "wonderland")
    who = accounts.authenticate("alice", "wonderland")
    assert who == Identity(owner_id(info.id), "alice", False, info.id)
    assert accounts.authenticate("alice", "Wonderland") is None
    assert accounts.authenticate("nobody", "wonderland") is None


def test_the_password_is_stored_as_a_scrypt_hash(accounts: Accounts, store: Store) -> None:
    accounts.create_user("alice", "wonderland")
    with store.engine.connect() as connection:
        stored = connection.scalar(select(User.password_hash))
    assert stored is not None and stored.startswith("scrypt$") and "wonderland" not in stored


@pytest.mark.parametrize(
    ("name", "password", "error"),
    [("", "longenough", InvalidInput), ("bad name", "longenough", InvalidInput), ("a" * 65, "longenough", InvalidInput),
     ("alice", "short", InvalidInput), ("taken", "longenough", Conflict)],
)  # fmt: skip
def test_bad_new_users_are_refused_with_the_reason(
    accounts: Accounts, name: str, password: str, error: type[Exception]
) -> None:
    accounts.create_user("taken", "longenough")
    with pytest.raises(error):
        accounts.create_user(name, password)


def test_a_session_lasts_until_it_expires_or_ends(accounts: Accounts, store: Store) -> None:
    accounts.create_user("alice", "wonderland")
    who = accounts.authenticate("alice", "wonderland")
    assert who is not None
    token = accounts.start_session(who)
    assert accounts.session_identity(token) == who
    with store.engine.begin() as connection:  # an hour later
        connection.execute(update(LoginSession).values(expires_at=time.time() - 1))
    assert accounts.session_identity(token) is None
    second = accounts.start_session(who)
    assert accounts.session_identity(second) == who
    accounts.end_session(second)
    assert accounts.session_identity(second) is None


def test_only_a_hash_of_a_session_token_is_stored(accounts: Accounts, store: Store) -> None:
    accounts.create_user("alice", "wonderland")
    who = accounts.authenticate("alice", "wonderland")
    assert who is not None
    token = accounts.start_session(who)
    with store.engine.connect() as connection:
        assert connection.scalar(select(LoginSession.token_hash)) == digest(token)


def test_a_new_password_ends_every_session(accounts: Accounts) -> None:
    accounts.create_user("alice", "wonderland")
    who = accounts.authenticate("alice", "wonderland")
    assert who is not None
    token = accounts.start_session(who)
    accounts.set_password("alice", "looking-glass")
    assert accounts.session_identity(token) is None
    assert accounts.authenticate("alice", "looking-glass") == who


def test_api_tokens_identify_their_user_until_revoked(accounts: Accounts) -> None:
    accounts.create_user("alice", "wonderland")
    accounts.create_user("bob", "builder1")
    alice = accounts.authenticate("alice", "wonderland")
    bob = accounts.authenticate("bob", "builder1")
    assert alice is not None and bob is not None
    made = accounts.create_token(alice, "laptop")
    assert made["token"].startswith("r1c_") and len(made["token"]) > 40
    assert accounts.token_identity(made["token"]) == alice
    assert accounts.token_identity(made["token"] + "x") is None
    listed = accounts.tokens(alice)
    assert [t["name"] for t in listed] == ["laptop"] and "token" not in listed[0]
    assert accounts.tokens(bob) == []
    with pytest.raises(NotFound):
        accounts.revoke_token(bob, made["id"])  # not his
    accounts.revoke_token(alice, made["id"])
    assert accounts.token_identity(made["token"]) is None


def test_deleting_a_user_ends_their_sessions_and_tokens(accounts: Accounts) -> None:
    accounts.create_user("root", "rootpass1", is_admin=True)
    accounts.create_user("alice", "wonderland")
    alice = accounts.authenticate("alice", "wonderland")
    assert alice is not None
    session, token = accounts.start_session(alice), accounts.create_token(alice, "")["token"]
    accounts.delete_user("alice")
    assert accounts.session_identity(session) is None and accounts.token_identity(token) is None
    with pytest.raises(NotFound):
        accounts.delete_user("alice")


def test_the_last_admin_cannot_be_deleted(accounts: Accounts) -> None:
    accounts.create_user("root", "rootpass1", is_admin=True)
    with pytest.raises(Conflict, match="only admin"):
        accounts.delete_user("root")


def test_configured_users_are_created_and_updated(accounts: Accounts) -> None:
    accounts.sync([UserSpec("admin", "first-pass", True), UserSpec("carol", hash_password("carols-pass"))])
    assert accounts.authenticate("admin", "first-pass") is not None
    carol = accounts.authenticate("carol", "carols-pass")
    assert carol is not None and not carol.is_admin
    token = accounts.start_session(carol)
    accounts.sync([UserSpec("admin", "second-pass", True), UserSpec("carol", "carols-pass", True)])
    assert accounts.authenticate("admin", "first-pass") is None
    assert accounts.authenticate("admin", "second-pass") is not None
    assert accounts.session_identity(token) is not None  # carol's password did not change
    assert [(u.name, u.is_admin) for u in accounts.users()] == [("admin", True), ("carol", True)]


def test_a_share_is_a_snapshot_under_an_unguessable_token(store: Store) -> None:
    conversation = store.create_conversation("alice")
    store.add_message("alice", conversation.id, role="user", content="question")
    store.add_message("alice", conversation.id, role="assistant", content="answer", reasoning="thought")
    store.add_message("alice", conversation.id, role="assistant", content="half", state=MessageState.STREAMING)
    share = store.share("alice", conversation.id, expires_at=None)
    assert share.url == f"/s/{share.token}" and len(share.token) >= 43  # 32 random bytes
    snapshot = store.shared(share.token)
    assert snapshot.title == "question"
    assert snapshot.messages == [
        {"role": "user", "content": "question", "reasoning": ""},
        {"role": "assistant", "content": "answer", "reasoning": "thought"},
    ]
    store.add_message("alice", conversation.id, role="user", content="later")
    assert len(store.shared(share.token).messages) == 2  # what was shared, not what came after
    again = store.share("alice", conversation.id, expires_at=None)
    assert again.token == share.token and len(store.shared(share.token).messages) == 3


def test_only_the_owner_shares_lists_or_revokes(store: Store) -> None:
    conversation = store.create_conversation("alice")
    with pytest.raises(NotFound):
        store.share("bob", conversation.id, expires_at=None)
    share = store.share("alice", conversation.id, expires_at=None)
    assert store.shares("bob") == [] and [s.token for s in store.shares("alice")] == [share.token]
    with pytest.raises(NotFound):
        store.unshare("bob", conversation.id)
    store.unshare("alice", conversation.id)
    with pytest.raises(NotFound, match="revoked"):
        store.shared(share.token)
    with pytest.raises(NotFound, match="not shared"):
        store.unshare("alice", conversation.id)


def test_an_expired_or_deleted_share_is_gone(store: Store) -> None:
    first, second = store.create_conversation("alice"), store.create_conversation("alice")
    expiring = store.share("alice", first.id, expires_at=time.time() + 60)
    deleted = store.share("alice", second.id, expires_at=None)
    store.shared(expiring.token)
    with store.engine.begin() as connection:
        connection.execute(update(Share).where(Share.token == expiring.token).values(expires_at=time.time() - 1))
    with pytest.raises(NotFound):
        store.shared(expiring.token)
    assert [s.token for s in store.shares("alice")] == [deleted.token]
    store.delete_conversation("alice", second.id)
    with pytest.raises(NotFound):
        store.shared(deleted.token)


@pytest.mark.parametrize("token", ["", "x", "a" * 1000, "../../etc/passwd"])
def test_a_malformed_share_token_is_simply_not_found(store: Store, token: str) -> None:
    with pytest.raises(NotFound):
        store.shared(token)
