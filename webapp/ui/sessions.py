"""What each page session shows, once its user has acted: so that late updates leave it alone."""

from __future__ import annotations

import gradio as gr


class PageSessions:
    """The page sessions whose user has changed the chat (sent, chose, cleared), and what each shows.

    Rules kept with it: the page's load, which restores the latest conversation, leaves a
    session the user has already acted in alone (its late output would replace the chat under
    a streamed answer); and a streamed answer updates a page only while the page shows its
    conversation (see `Conversation.stream_turn`). The oldest sessions are forgotten past
    `limit`; a forgotten one counts as showing whatever is streamed to it.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._shown: dict[str, str | None] = {}  # insertion-ordered: the oldest first

    def mark(self, request: gr.Request, shown: str | None) -> None:
        """The user acted, and the page now shows conversation `shown` (None: a new, empty chat)."""
        if request.session_hash is None:
            return
        self._shown[request.session_hash] = shown
        if len(self._shown) > self.limit:
            del self._shown[next(iter(self._shown))]

    def __contains__(self, request: gr.Request) -> bool:
        return request.session_hash in self._shown

    def shows(self, request: gr.Request, conversation: str) -> bool:
        return self._shown.get(request.session_hash or "", conversation) == conversation
