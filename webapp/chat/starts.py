"""How turns begin: their messages stored together, with what each turn reads beside its message.

Every database call costs a hop to a worker thread, and on a busy machine a hop waits for a
core: a send makes one before its answer. Turns that start together store their messages in
one transaction (`webapp.chat.batches`), each refused there alone past its owner's quota; the
saved settings a turn asks for are read on the same hop, before that transaction (nothing is
stored if they cannot be read).
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.chat.batches import Batches
from webapp.chat.preferences import Preferences
from webapp.db.records import MessageRecord
from webapp.db.store import Store


@dataclass(frozen=True, slots=True)
class TurnStart:
    owner: str
    conversation_id: str
    content: str
    replacing: int | None = None  # the user message it is a new version of (None: a new message)
    settings: bool = False  # the owner's saved settings are read too


@dataclass(frozen=True, slots=True)
class Begun:
    """A turn's message stored: the branch it ends, as the model sees it, and the owner's settings if asked."""

    history: list[MessageRecord]
    preferences: Preferences | None = None


class TurnStarts:
    """The turns starting in this process, batched."""

    def __init__(self, store: Store, daily_tokens: int | None) -> None:
        self.store = store
        self.daily_tokens = daily_tokens  # the default quota (an owner may have one of their own)
        self._batches: Batches[TurnStart, Begun] = Batches(self._run)

    async def begin(self, start: TurnStart) -> Begun:
        return await self._batches.call(start)

    def _run(self, starts: list[TurnStart]) -> list[Begun | Exception]:
        saved = self.store.settings_of({start.owner for start in starts if start.settings})
        turns = [(start.owner, start.conversation_id, start.content, start.replacing) for start in starts]
        out: list[Begun | Exception] = []
        for start, history in zip(starts, self.store.begin_turns(turns, daily_tokens=self.daily_tokens), strict=True):
            if isinstance(history, Exception):
                out.append(history)
            elif start.settings:
                found = saved.get(start.owner)
                out.append(Begun(history, Preferences.from_columns(found) if found else Preferences()))
            else:
                out.append(Begun(history))
        return out
