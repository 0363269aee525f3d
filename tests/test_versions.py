"""Answer versions: regenerate and edit keep what was there, the branch shown is the one chosen,
and the model sees that branch only (store on SQLite or PostgreSQL, service on a scripted engine)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.fakes import FakeEngine, Reply
from tests.helpers import external_service, migrate_to, run
from webapp.db.database import create_sql_engine, migrate
from webapp.db.records import MessageRecord
from webapp.db.store import Store
from webapp.db.tree import Tree, Version
from webapp.errors import InvalidInput, NotFound

OWNER = "owner-1"


def contents(messages: list[MessageRecord]) -> list[str]:
    return [m.content for m in messages]


def test_a_history_from_before_versions_becomes_one_branch_each(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate_to(engine, "0008")
    with engine.begin() as connection:  # as the app of then wrote it: a list per conversation
        for conversation in ("c1", "c2"):
            connection.execute(
                text("INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES (:c, 'a', '', 1, 1)"),
                {"c": conversation},
            )
        for n, (conversation, role) in enumerate(
            [("c1", "user"), ("c2", "user"), ("c1", "assistant"), ("c1", "user"), ("c2", "assistant")]
        ):
            connection.execute(
                text(
                    "INSERT INTO messages (conversation_id, role, content, reasoning, state, math, created_at) "
                    "VALUES (:c, :role, :content, '', 'complete', false, :at)"
                ),
                {"c": conversation, "role": role, "content": f"{conversation}-{n}", "at": 100 - n},  # times go back
            )
    migrate(engine)
    store = Store.open(database_url)
    try:
        first = store.messages("a", "c1")
        assert contents(first) == ["c1-0", "c1-2", "c1-3"]
        assert [m.parent_id for m in first] == [None, first[0].id, first[1].id]
        assert contents(store.messages("a", "c2")) == ["c2-1", "c2-4"]
        tree = store.tree("a", "c1")
        assert tree.versions(first) == [Version(1, 1, (m.id,)) for m in first]
        # What follows is stored after the branch, as before.
        [history] = store.begin_turns([("a", "c1", "next", None)])
        assert isinstance(history, list) and contents(history) == ["c1-0", "c1-2", "c1-3", "next"]
    finally:
        store.close()
    migrate_to(engine, "0008", down=True)  # back, the chosen branch stays a list
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT content FROM messages WHERE conversation_id = 'c1' ORDER BY id"))
        assert [r[0] for r in rows] == ["c1-0", "c1-2", "c1-3", "next"]
    engine.dispose()


def test_versions_are_kept_and_choosing_one_shows_its_own_latest_branch(store: Store) -> None:
    conversation = store.create_conversation(OWNER)
    question = store.add_message(OWNER, conversation.id, role="user", content="q")
    first = store.add_message(OWNER, conversation.id, role="assistant", content="a1")
    store.add_message(OWNER, conversation.id, role="user", content="q2 after a1")
    store.add_message(OWNER, conversation.id, role="assistant", content="a2 after a1")
    second = store.add_message(OWNER, conversation.id, role="assistant", content="a1, again", parent_id=question.id)
    assert contents(store.messages(OWNER, conversation.id)) == ["q", "a1, again"]  # the newest is shown
    tree = store.tree(OWNER, conversation.id)
    assert tree.version(second) == Version(2, 2, (first.id, second.id))
    assert contents(tree.messages) == ["q", "a1", "q2 after a1", "a2 after a1", "a1, again"]  # nothing lost

    assert contents(store.choose(OWNER, conversation.id, first.id)) == ["q", "a1", "q2 after a1", "a2 after a1"]
    assert contents(store.messages(OWNER, conversation.id)) == ["q", "a1", "q2 after a1", "a2 after a1"]
    assert contents(store.choose(OWNER, conversation.id, second.id)) == ["q", "a1, again"]
    # A message deep in another branch: the messages above it are chosen with it.
    deep = next(m for m in tree.messages if m.content == "a2 after a1")
    assert contents(store.choose(OWNER, conversation.id, deep.id))[-1] == "a2 after a1"
    # A later message is shown again, over an earlier choice.
    store.add_message(OWNER, conversation.id, role="assistant", content="a1, third", parent_id=question.id)
    assert contents(store.messages(OWNER, conversation.id)) == ["q", "a1, third"]
    with pytest.raises(NotFound):
        store.choose(OWNER, conversation.id, 10**9)
    with pytest.raises(NotFound):
        store.choose("someone else", conversation.id, first.id)
    # Search finds a conversation by the text of any of its versions, shown or not.
    assert [c.id for c in store.list_conversations(OWNER, search="a2 after")] == [conversation.id]
    # A share link is the branch shown.
    store.choose(OWNER, conversation.id, first.id)
    shared = store.shared(store.share(OWNER, conversation.id, expires_at=None).token)
    assert [m["content"] for m in shared.messages] == ["q", "a1", "q2 after a1", "a2 after a1"]


def test_an_edit_is_a_new_branch_beside_the_old_one(store: Store) -> None:
    conversation = store.create_conversation(OWNER)
    for content in ("q1", "a1", "q2", "a2"):
        store.add_message(OWNER, conversation.id, role="assistant" if content[0] == "a" else "user", content=content)
    old = store.messages(OWNER, conversation.id)
    [edited, refused] = store.begin_turns(
        [(OWNER, conversation.id, "q2, edited", old[2].id), (OWNER, conversation.id, "x", old[1].id)]
    )
    assert isinstance(edited, list) and contents(edited) == ["q1", "a1", "q2, edited"]
    assert isinstance(refused, InvalidInput)  # an answer is not a message of the user's to edit
    assert edited[-1].parent_id == old[1].id
    tree = store.tree(OWNER, conversation.id)
    assert tree.version(edited[-1]) == Version(2, 2, (old[2].id, edited[-1].id))
    assert contents(store.choose(OWNER, conversation.id, old[2].id)) == ["q1", "a1", "q2", "a2"]
    # The first message edited: a second root.
    [root] = store.begin_turns([(OWNER, conversation.id, "q1, edited", old[0].id)])
    assert isinstance(root, list) and contents(root) == ["q1, edited"] and root[0].parent_id is None
    assert Tree(store.tree(OWNER, conversation.id).messages).version(root[0]).count == 2


async def test_regenerate_edit_and_choose_keep_versions_and_the_model_sees_the_chosen_branch(store: Store) -> None:
    fake = FakeEngine([Reply(["t"], [f"Answer {n}."]) for n in range(1, 7)])
    async with external_service(fake, store) as service:
        conversation = await service.new_conversation(OWNER)
        await run(service.send(OWNER, conversation.id, "first"))
        await run(service.send(OWNER, conversation.id, "second"))
        await run(service.regenerate(OWNER, conversation.id))
        shown = await service.messages(OWNER, conversation.id)
        assert contents(shown) == ["first", "Answer 1.", "second", "Answer 3."]
        tree = await service.tree(OWNER, conversation.id)
        assert [v.index for v in tree.versions(shown)] == [1, 1, 1, 2] and tree.version(shown[3]).count == 2
        asked: Any = fake.requests[-1]["messages"]
        assert [m["content"] for m in asked] == ["first", "Answer 1.", "second"]  # not the old answer

        # Back to the first answer; what is sent next follows it, and the model sees that branch.
        old = tree.version(shown[3]).ids[0]
        assert contents(await service.choose(OWNER, conversation.id, old))[-1] == "Answer 2."
        await run(service.send(OWNER, conversation.id, "third"))
        asked = fake.requests[-1]["messages"]
        assert [m["content"] for m in asked] == ["first", "Answer 1.", "second", "Answer 2.", "third"]

        # Regenerating an earlier answer by its id: a version of it, answered from the history above it.
        await run(service.regenerate(OWNER, conversation.id, message_id=shown[1].id))
        asked = fake.requests[-1]["messages"]
        assert [m["content"] for m in asked] == ["first"]
        assert contents(await service.messages(OWNER, conversation.id)) == ["first", "Answer 5."]

        # Editing the first message: a new branch; the old one comes back whole by choosing it.
        history = await service.begin(OWNER, conversation.id, "first, edited", replacing=shown[0].id)
        await run(service.answer(OWNER, conversation.id, history))
        assert contents(await service.messages(OWNER, conversation.id)) == ["first, edited", "Answer 6."]
        back = await service.choose(OWNER, conversation.id, shown[0].id)
        assert contents(back) == ["first", "Answer 5."]  # the answer chosen last under it
        everything = contents((await service.tree(OWNER, conversation.id)).messages)
        assert len(everything) == 10 and "Answer 4." in everything

        with pytest.raises(NotFound):
            await run(service.regenerate(OWNER, conversation.id, message_id=10**9))
        with pytest.raises(NotFound):
            await service.choose("someone else", conversation.id, shown[0].id)
