"""A conversation's messages as a tree of versions, and the branch it shows (pure).

Each message has a parent (the message it follows; None for the first of a branch). The
children of one parent are versions of one another: answers to one question (regenerated),
or questions after one answer (edited). The branch shown goes down from the roots, taking at
each step the child chosen most recently: the child's `chosen_at`, or its `created_at` if it
was never chosen (so a new message is the chosen one), newer ids winning ties. Choosing a
message marks it and the messages above it, so what follows it is its own most recent branch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from webapp.db.records import MessageRecord


@dataclass(frozen=True, slots=True)
class Version:
    """Where a message stands among its versions: `index` from 1 of `count`, and their ids in order."""

    index: int
    count: int
    ids: tuple[int, ...]


def _rank(message: MessageRecord) -> tuple[float, int]:
    return (message.chosen_at if message.chosen_at is not None else message.created_at, message.id)


def branch_of(messages: Sequence[MessageRecord]) -> list[MessageRecord]:
    """The branch shown of a conversation's messages (oldest first): at once when it is one branch
    (most are: each message follows the one before it), else through its `Tree`."""
    previous = None
    for message in messages:
        if message.parent_id != previous:
            return Tree(messages).branch()
        previous = message.id
    return list(messages)


class Tree:
    """Every message of one conversation (oldest first), and the ways through them."""

    def __init__(self, messages: Iterable[MessageRecord]) -> None:
        self.messages = sorted(messages, key=lambda m: m.id)
        self.by_id = {m.id: m for m in self.messages}
        self._children: dict[int | None, list[MessageRecord]] = {}
        for message in self.messages:
            parent = message.parent_id if message.parent_id in self.by_id else None
            self._children.setdefault(parent, []).append(message)

    def children(self, parent_id: int | None) -> list[MessageRecord]:
        """The versions that follow `parent_id` (None: the first messages), oldest first."""
        return self._children.get(parent_id, [])

    def below(self, parent_id: int | None) -> list[MessageRecord]:
        """The chosen branch after `parent_id` (None: from the start)."""
        out: list[MessageRecord] = []
        seen: set[int] = set()
        while (children := self.children(parent_id)) and parent_id not in seen:
            if parent_id is not None:
                seen.add(parent_id)
            chosen = max(children, key=_rank)
            out.append(chosen)
            parent_id = chosen.id
        return out

    def branch(self) -> list[MessageRecord]:
        """The branch shown: the conversation as the model and the page see it."""
        return self.below(None)

    def path_to(self, message_id: int | None) -> list[MessageRecord]:
        """The messages from the start down to `message_id`, it included (None: none)."""
        out: list[MessageRecord] = []
        seen: set[int] = set()
        current = self.by_id.get(message_id) if message_id is not None else None
        while current is not None and current.id not in seen:
            seen.add(current.id)
            out.append(current)
            current = self.by_id.get(current.parent_id) if current.parent_id is not None else None
        return out[::-1]

    def question(self, message_id: int | None) -> MessageRecord | None:
        """The user message a new answer to `message_id` answers: it, if a user message; the one
        an answer answers; the last one shown for None. None when there is none."""
        if message_id is None:
            return next((m for m in reversed(self.branch()) if m.role == "user"), None)
        message = self.by_id.get(message_id)
        if message is not None and message.role == "assistant" and message.parent_id is not None:
            message = self.by_id.get(message.parent_id)
        return message if message is not None and message.role == "user" else None

    def version(self, message: MessageRecord) -> Version:
        parent = message.parent_id if message.parent_id in self.by_id else None
        ids = tuple(m.id for m in self.children(parent))
        return Version(ids.index(message.id) + 1, len(ids), ids)

    def versions(self, messages: Sequence[MessageRecord]) -> list[Version]:
        """Each message's place among its versions (a branch's, usually)."""
        return [self.version(m) for m in messages]
