"""Accounts and share links in a real database (a SQLite file, or PostgreSQL with TEST_DATABASE_URL):
users, sessions, tokens, snapshots.
"""

from __future__ import annotations

import logging
import secrets
import time

import pytest
from sqlalchemy import Engine, func, insert, select, text, update

from tests.helpers import assert_index_in_step, migrate_to, old_conversation
from webapp.auth.accounts import Accounts, Identity, digest, owner_id
from webapp.auth.passwords import UserSpec, hash_password
from webapp.db.database import Database, create_sql_engine, migrate
from webapp.db.store import Store
from webapp.db.tables import Conversation, LoginSession, Message, MessageState, OwnerSettings, Share, User
from webapp.errors import Conflict, InvalidInput, NotFound

SETTINGS = {"temperature": 0.7, "top_p": 0.9, "max_tokens": None, "math": True, "show_reasoning": False, "persona": ""}


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store.database, session_ttl=3600)


def test_a_user_signs_in_with_the_right_password_only(accounts: Accounts) -> None:
    info = accounts.create_user("alice", "wonderland")
    who = accounts.authenticate("alice", "wonderland")
    assert who == Identity(owner_id(info.id), "alice", False, info.id)
    assert accounts.authenticate("alice", "Wonderland") is None
    assert accounts.authenticate("nobody", "wonderland") is None


def test_the_password_is_stored_as_a_scrypt_hash(accounts: Accounts, store: Store) -> None:
    accounts.create_user("alice", "wonderland")
    with store.database.sql.connect() as connection:
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
    with store.database.sql.begin() as connection:  # an hour later
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
    with store.database.sql.connect() as connection:
        assert connection.scalar(select(LoginSession.token_hash)) == digest(token)


def signed_in(accounts: Accounts, name: str, password: str) -> tuple[Identity, str, str]:
    """The user, one of their sessions and one of their API tokens."""
    who = accounts.authenticate(name, password)
    assert who is not None
    return who, accounts.start_session(who), accounts.create_token(who, "script")["token"]


def test_a_new_password_ends_every_session_and_api_token(accounts: Accounts) -> None:
    accounts.create_user("alice", "wonderland")
    who, session, token = signed_in(accounts, "alice", "wonderland")
    accounts.set_password("alice", "looking-glass")
    assert accounts.session_identity(session) is None and accounts.token_identity(token) is None
    assert accounts.authenticate("alice", "looking-glass") == who


def test_signing_a_user_out_everywhere_ends_their_sessions_and_tokens_only(accounts: Accounts) -> None:
    accounts.create_user("alice", "wonderland")
    accounts.create_user("bob", "builder1")
    _, session, token = signed_in(accounts, "alice", "wonderland")
    bob, bobs_session, bobs_token = signed_in(accounts, "bob", "builder1")
    accounts.sign_out_everywhere("alice")
    assert accounts.session_identity(session) is None and accounts.token_identity(token) is None
    assert accounts.authenticate("alice", "wonderland") is not None  # the password stays
    assert accounts.session_identity(bobs_session) == bob and accounts.token_identity(bobs_token) == bob
    with pytest.raises(NotFound):
        accounts.sign_out_everywhere("nobody")


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


def owned_rows(store: Store, owner: str) -> list[int]:
    """How many conversations, messages, settings and share links `owner` has, in the database."""
    with store.database.sql.connect() as connection:
        mine = select(Conversation.id).where(Conversation.owner == owner)
        return [
            connection.scalar(select(func.count()).select_from(table).where(where)) or 0
            for table, where in [
                (Conversation, Conversation.owner == owner),
                (Message, Message.conversation_id.in_(mine)),
                (OwnerSettings, OwnerSettings.owner == owner),
                (Share, Share.owner == owner),
            ]
        ]


def give_history(store: Store, owner: str) -> str:
    """A conversation with two messages, settings and a share link for `owner`; the link's token."""
    conversation_id = old_conversation(store, owner, ("user", "my secret question"), ("assistant", "the answer"))
    token = secrets.token_urlsafe(32)
    with store.database.sql.begin() as connection:  # only the columns every schema since 0003 has
        connection.execute(insert(OwnerSettings).values(owner=owner, updated_at=0.0, **SETTINGS))
        connection.execute(
            text(
                "INSERT INTO shares (token, conversation_id, owner, title, snapshot, created_at) "
                "VALUES (:token, :id, :owner, '', '[]', 0)"
            ),
            {"token": token, "id": conversation_id, "owner": owner},
        )
    return token


def give_old_history(engine: Engine, owner: str) -> None:
    """`give_history` in the columns every schema since 0003 has (the Store of today reads newer ones)."""
    conversation = f"c-{owner}"[:32]
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES (:c, :o, '', 0, 0)"),
            {"c": conversation, "o": owner},
        )
        for role, content in (("user", "my secret question"), ("assistant", "the answer")):
            connection.execute(
                text(
                    "INSERT INTO messages (conversation_id, role, content, reasoning, state, math, created_at) "
                    "VALUES (:c, :role, :content, '', 'complete', false, 0)"
                ),
                {"c": conversation, "role": role, "content": content},
            )
        connection.execute(insert(OwnerSettings).values(owner=owner, updated_at=0.0, **SETTINGS))
        connection.execute(
            text(
                "INSERT INTO shares (token, conversation_id, owner, title, snapshot, created_at) "
                "VALUES (:t, :c, :o, '', '[]', 0)"
            ),
            {"t": f"t-{owner}", "c": conversation, "o": owner},
        )


def test_a_deleted_users_id_and_data_never_pass_to_a_new_user(accounts: Accounts, store: Store) -> None:
    accounts.create_user("root", "rootpass1", is_admin=True)
    alice = accounts.create_user("alice", "wonderland")
    bob = accounts.create_user("bob", "builder1")  # the highest id: the one SQLite's rowids hand out again
    give_history(store, owner_id(alice.id))
    link = give_history(store, owner_id(bob.id))
    accounts.delete_user("bob")
    assert owned_rows(store, owner_id(bob.id)) == [0, 0, 0, 0]  # deleted with him
    with pytest.raises(NotFound):
        store.shared(link)
    mallory = accounts.create_user("mallory", "mallory1")
    assert mallory.id != bob.id
    assert store.list_conversations(owner_id(mallory.id)) == [] and store.shares(owner_id(mallory.id)) == []
    assert owned_rows(store, owner_id(alice.id)) == [1, 2, 1, 1]  # nobody else's
    assert_index_in_step(store)  # the search index forgot the deleted messages


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


def test_a_configured_users_new_password_ends_their_sessions_and_tokens(accounts: Accounts) -> None:
    accounts.sync([UserSpec("carol", "carols-pass")])
    _, session, token = signed_in(accounts, "carol", "carols-pass")
    accounts.sync([UserSpec("carol", "carols-new-pass")])
    assert accounts.session_identity(session) is None and accounts.token_identity(token) is None


def test_configured_users_the_configuration_drops_are_disabled_until_named_again(
    accounts: Accounts, store: Store
) -> None:
    admin = UserSpec("admin", "admin-pass", True)
    accounts.sync([admin, UserSpec("carol", "carols-pass")])
    carol, session, token = signed_in(accounts, "carol", "carols-pass")
    give_history(store, carol.owner)
    accounts.sync([admin])  # carol's line was removed from the users file
    assert accounts.authenticate("carol", "carols-pass") is None
    assert accounts.session_identity(session) is None and accounts.token_identity(token) is None
    assert [(u.name, u.managed_by, u.disabled) for u in accounts.users()] == [
        ("admin", "config", False),
        ("carol", "config", True),
    ]
    assert owned_rows(store, carol.owner) == [1, 2, 1, 1]  # kept
    accounts.sync([admin, UserSpec("carol", "carols-pass")])
    assert accounts.authenticate("carol", "carols-pass") == carol  # back, with her history
    assert not accounts.users()[1].disabled


def test_the_old_admin_cannot_sign_in_once_admin_user_is_renamed(accounts: Accounts) -> None:
    accounts.sync([UserSpec("admin", "admin-pass", True)])
    accounts.sync([UserSpec("root", "admin-pass", True)])  # ADMIN_USER=root
    assert accounts.authenticate("admin", "admin-pass") is None
    assert accounts.authenticate("root", "admin-pass") is not None


def test_a_disabled_user_is_refused_everywhere(accounts: Accounts, store: Store) -> None:
    accounts.sync([UserSpec("carol", "carols-pass")])
    _, session, token = signed_in(accounts, "carol", "carols-pass")
    with store.database.sql.begin() as connection:  # disabled, with a session and token left (another replica's sync)
        connection.execute(update(User).values(disabled=True))
    assert accounts.authenticate("carol", "carols-pass") is None
    assert accounts.session_identity(session) is None and accounts.token_identity(token) is None


def test_users_made_by_admins_are_left_alone_by_the_configuration(accounts: Accounts) -> None:
    accounts.create_user("dave", "daves-pass")
    accounts.sync([UserSpec("admin", "admin-pass", True)])
    accounts.sync([])  # configuration names nobody any more
    assert accounts.authenticate("dave", "daves-pass") is not None
    assert [(u.name, u.managed_by, u.disabled) for u in accounts.users()] == [
        ("admin", "config", True),
        ("dave", "ui", False),
    ]


def test_admins_may_not_change_or_delete_a_configured_user(accounts: Accounts) -> None:
    accounts.sync([UserSpec("admin", "admin-pass", True), UserSpec("carol", "carols-pass")])
    with pytest.raises(Conflict, match="configuration") as refused:
        accounts.set_password("carol", "taken-over")
    assert "USERS_FILE" in str(refused.value.hint)
    with pytest.raises(Conflict, match="configuration"):
        accounts.delete_user("carol")
    assert accounts.authenticate("carol", "carols-pass") is not None
    accounts.sign_out_everywhere("carol")  # allowed: it changes nothing the configuration says


def test_a_configured_name_takes_over_a_user_made_by_an_admin(
    accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    made = accounts.create_user("erin", "erins-ui-pass")
    _, session, token = signed_in(accounts, "erin", "erins-ui-pass")
    with caplog.at_level(logging.WARNING, logger="webapp.auth.accounts"):
        accounts.sync([UserSpec("erin", "erins-file-pass")])
    assert "erin was made in the UI" in caplog.text
    assert accounts.authenticate("erin", "erins-ui-pass") is None
    who = accounts.authenticate("erin", "erins-file-pass")
    assert who is not None and who.user_id == made.id
    assert accounts.session_identity(session) is None and accounts.token_identity(token) is None
    assert accounts.users()[0].managed_by == "config"
    with pytest.raises(Conflict):
        accounts.set_password("erin", "by-an-admin")


def insert_user(engine: Engine, name: str) -> int:
    """A user as revision 0004 stored them (no managed_by or disabled yet); their id."""
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO users (name, password_hash, is_admin, created_at) VALUES (:name, :hash, false, 0)"),
            {"name": name, "hash": hash_password(f"{name}-pass")},
        )
        return int(connection.scalar(text("SELECT id FROM users WHERE name = :name"), {"name": name}))


def test_the_upgrade_keeps_sessions_and_tokens_and_deletes_what_deleted_users_left(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0004")
    alice, bob, carol = (insert_user(engine, name) for name in ("alice", "bob", "carol"))
    session, token = "s" * 43, "r1c_" + "t" * 43
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO sessions VALUES (:hash, :user, 0, 1e12)"), {"hash": digest(session), "user": alice}
        )
        connection.execute(
            text("INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES (:hash, :user, 'x', 0)"),
            {"hash": digest(token), "user": bob},
        )
    for owner in (owner_id(alice), owner_id(carol), "0" * 32):
        give_old_history(engine, owner)
    with engine.begin() as connection:  # carol deleted before this fix: her history stayed
        connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": carol})
    migrate(engine)
    database = Database(engine)
    store, accounts = Store(database), Accounts(database, session_ttl=3600)
    assert owned_rows(store, owner_id(carol)) == [0, 0, 0, 0]
    assert owned_rows(store, owner_id(alice)) == [1, 2, 1, 1] and owned_rows(store, "0" * 32) == [1, 2, 1, 1]
    assert accounts.session_identity(session) == Identity(owner_id(alice), "alice", False, alice)
    assert accounts.token_identity(token) == Identity(owner_id(bob), "bob", False, bob)
    assert [(u.name, u.managed_by, u.disabled) for u in accounts.users()] == [
        ("alice", "ui", False),
        ("bob", "ui", False),
    ]
    assert accounts.create_user("mallory", "mallory1").id > carol  # carol's id is never handed out again
    accounts.create_user("root", "rootpass1", is_admin=True)
    accounts.delete_user("mallory")  # foreign keys still hold: her id is not reused either
    assert accounts.create_user("oscar", "oscar-pass").id > carol + 1
    assert_index_in_step(store)
    engine.dispose()


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
    with store.database.sql.begin() as connection:
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
