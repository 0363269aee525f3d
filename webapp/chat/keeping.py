"""How an owner keeps their list, for the API and the page alike: pins, and deletes that can be undone."""

from __future__ import annotations

import asyncio
import time

from webapp.chat.claims import TurnClaims
from webapp.db.keeping import UNDO_SECONDS
from webapp.db.records import ConversationInfo
from webapp.db.store import Store
from webapp.errors import Conflict

__all__ = ["UNDO_SECONDS", "ListKeeping"]

ANSWERING = "An answer is still being written in this chat: stop it first, then delete the chat."


class ListKeeping:
    """The `ChatService`'s part that keeps the list; its `store` and claims are the service's."""

    store: Store
    _claims: TurnClaims

    async def pin(self, owner: str, conversation_id: str, pinned: bool) -> ConversationInfo:
        """Pin the conversation to the top of the owner's list (`pinned`), or unpin it."""
        return await asyncio.to_thread(self.store.set_pinned, owner, conversation_id, pinned)

    async def change(
        self, owner: str, conversation_id: str, *, title: str | None = None, pinned: bool | None = None
    ) -> ConversationInfo:
        """Rename the conversation (`title`), pin or unpin it (`pinned`), or both: it as it then is."""
        info = await asyncio.to_thread(self.store.conversation, owner, conversation_id)
        if title is not None:
            info = await asyncio.to_thread(self.store.rename, owner, conversation_id, title)
        if pinned is not None:
            info = await self.pin(owner, conversation_id, pinned)
        return info

    def refuse_while_answering(self, owner: str, conversation_id: str) -> None:
        """A chat whose answer is being written is not deleted (Conflict): its answer would be lost
        unseen, or written after the delete; stopping it first keeps what it had until then."""
        if self._claims.busy((owner, conversation_id)):
            raise Conflict(ANSWERING, code="busy_delete")

    async def delete(self, owner: str, conversation_id: str) -> None:
        """Delete the conversation for good, at once (the API's DELETE, the chat's trash)."""
        self.refuse_while_answering(owner, conversation_id)
        await asyncio.to_thread(self.store.delete_conversation, owner, conversation_id)

    async def delete_undoably(self, owner: str, conversation_id: str) -> ConversationInfo:
        """Delete the conversation so that `restore` brings it back for `UNDO_SECONDS`; the caller
        then runs `purge_deleted` (a start of the app does it too)."""
        self.refuse_while_answering(owner, conversation_id)
        return await asyncio.to_thread(self.store.trash, owner, conversation_id)

    async def restore(self, owner: str, conversation_id: str) -> ConversationInfo:
        """Bring back a conversation deleted by `delete_undoably`, messages, pin and link with it."""
        return await asyncio.to_thread(self.store.restore, owner, conversation_id)

    async def purge_deleted(self, after: float = UNDO_SECONDS) -> None:
        """Wait `after` seconds, then delete for good the conversations deleted undoably more than
        `UNDO_SECONDS` ago (this one's and any another page left)."""
        await asyncio.sleep(after)
        await asyncio.to_thread(self.store.purge_deleted, time.time() - UNDO_SECONDS)
