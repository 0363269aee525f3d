"""Whole conversations stored at once (imports): their times, titles and the owner's cap."""

from __future__ import annotations

from webapp.db.records import ConversationDraft, MessageDraft
from webapp.db.store import Store


def test_times_never_go_back_and_a_missing_title_is_the_first_question(store: Store) -> None:
    messages = (
        MessageDraft("user", "First\nquestion\x00 here", created_at=100.0),
        MessageDraft("assistant", "Answer", "Thought", created_at=None),
        MessageDraft("user", "Earlier clock?", created_at=50.0),
        MessageDraft("assistant", "Later", created_at=200.0, state="truncated", model="gpt-4o"),
    )
    [info] = store.add_conversations("me", [ConversationDraft("", messages, created_at=None, updated_at=150.0)])
    assert info.title == "First question here"
    assert (info.created_at, info.updated_at) == (100.0, 200.0)  # its last message's, past the export's own
    stored = store.messages("me", info.id)
    assert [m.created_at for m in stored] == [100.0, 100.0, 100.0, 200.0]
    assert [(m.content, m.reasoning, m.state) for m in stored][:2] == [
        ("First\nquestion here", "", "complete"),
        ("Answer", "Thought", "complete"),
    ]
    assert (stored[3].state, stored[3].model) == ("truncated", "gpt-4o")
    assert store.list_conversations("someone else") == []


def test_only_as_many_as_the_owner_may_keep_are_stored(store: Store) -> None:
    store.create_conversation("me")
    drafts = [ConversationDraft(f"C{n}", (MessageDraft("user", "Hi"),)) for n in range(5)]
    added = store.add_conversations("me", drafts, most=3)
    assert [info.title for info in added] == ["C0", "C1"]
    assert len(store.all_conversations("me")) == 3
    assert store.add_conversations("me", drafts, most=3) == []
