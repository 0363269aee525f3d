"""The conversation: the chat, the message box, and the turns it starts (send, regenerate, continue, stop, edit).

Each control is there only where it applies: Stop while an answer is written (it takes Send's
place, `static/style.css`), Continue under an answer cut by the length limit, regenerate on the
last answer and edit on one's own messages (the chat's own buttons), the trash deletes the chat
(as the list's Delete does: an undo bar follows).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import gradio as gr

from webapp.chat.events import ChatEvent, TurnEnded
from webapp.db.records import MessageRecord
from webapp.db.tables import MessageState
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import Sampling
from webapp.ui.bubbles import LATEX_DELIMITERS, Chat, LiveAnswer
from webapp.ui.context import PRIVATE, Page, sampling_from, shown
from webapp.ui.empty_state import empty_chat, examples, welcome
from webapp.ui.feedback import FeedbackControls
from webapp.ui.i18n import DEFAULT_LANG, Lang, t
from webapp.ui.sidebar import Sidebar
from webapp.ui.streaming import PageUpdates

# A turn's events: no concurrency limit (vLLM batches many chats; Gradio's default of 1
# would queue them), no progress veil over the chat.
STREAMING: dict[str, Any] = {"concurrency_limit": None, "show_progress": "hidden", **PRIVATE}

# What a `begin…` call of the service gives a turn on the stored chat: the history to answer,
# and the cut answer to go on with (None: a new answer).
Begun = tuple[list[MessageRecord], MessageRecord | None]


class Conversation:
    """Built inside the chat tab; `wire` connects it to the sidebar and the sampling settings."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.updates = PageUpdates()
        self.banner = gr.Markdown(elem_id="banner", visible=False)
        model = page.monitor.engine.settings.model
        self.chatbot = page.labels.add_update(
            gr.Chatbot(
                elem_id="chat",
                show_label=False,
                height="68vh",
                latex_delimiters=LATEX_DELIMITERS,
                buttons=["copy"],
                editable="user",  # `.edit`: the conversation goes on from the edited message
                feedback_options=("Like", "Dislike"),  # 👍/👎 (`ui/feedback.py`)
                sanitize_html=True,
                allow_tags=False,
                placeholder=welcome(DEFAULT_LANG, model),
                examples=examples(DEFAULT_LANG),
            ),
            lambda lang: empty_chat(lang, model),
        )
        self.feedback = FeedbackControls(page)  # a rating's note, between the chat and the message box
        with gr.Row(equal_height=True):
            self.box = page.labels.add_update(
                gr.Textbox(
                    elem_id="prompt",
                    label=t("message_box", DEFAULT_LANG),  # hidden, but what a screen reader announces
                    show_label=False,
                    placeholder=t("prompt", DEFAULT_LANG),
                    scale=8,
                    autofocus=True,
                    lines=1,
                    max_lines=8,
                ),
                lambda lang: gr.update(label=t("message_box", lang), placeholder=t("prompt", lang)),
            )
            self.send = self._button("send", elem_id="send", variant="primary", scale=1, min_width=80)
            self.stop = self._button("stop", elem_id="stop", scale=1, min_width=80)
        with gr.Row():
            self.resume = self._button("continue", elem_id="continue", size="sm", visible=False)
        self.veiled = gr.Checkbox(visible=False)  # never shown: where a refused turn's progress goes

    def _button(self, key: str, **options: Any) -> gr.Button:
        return self.page.labels.add(gr.Button(t(key, DEFAULT_LANG), **options), key, "value")

    def wire(self, sidebar: Sidebar, sampling: list[Any]) -> None:
        """Every way a turn starts; Send comes back once its event is over, however it ended."""
        page, self.sidebar = self.page, sidebar
        send_inputs = [self.box, page.current, page.lang, *sampling]
        send_outputs = [self.box, page.current, self.chatbot, sidebar.conversations, sidebar.title]
        turn_inputs = [page.current, page.lang, *sampling]
        turn_outputs = [page.current, self.chatbot, self.send]
        # A refused turn says why in a toast; Gradio would also mark the chat "Error" over all it
        # shows (whatever show_progress says): its progress goes to a component that is never shown.
        streaming: dict[str, Any] = {**STREAMING, "show_progress_on": [self.veiled]}
        turns: list[Any] = [
            trigger(self.on_send, send_inputs, [*send_outputs, self.send], **streaming)
            for trigger in (self.box.submit, self.send.click)
        ]
        turns.append(self.chatbot.retry(self.on_regenerate, turn_inputs, turn_outputs, **streaming))
        turns.append(self.resume.click(self.on_continue, turn_inputs, turn_outputs, **streaming))
        turns.append(self.chatbot.edit(self.on_edited, turn_inputs, turn_outputs, **streaming))
        for turn in turns:  # `.then`: however the turn ends (done, failed, stopped), Send comes back
            turn.then(self.on_turn_over, [page.current], [self.send, self.resume], concurrency_limit=None, **PRIVATE)
        self.stop.click(None, cancels=turns, **PRIVATE).then(
            self.on_stopped, [page.current, page.lang], [self.chatbot], **PRIVATE
        )
        page.current.change(self.on_shown, [page.current], [self.resume], **PRIVATE)
        self.chatbot.clear(
            self.on_clear,
            [page.current, page.lang, sidebar.search],
            [page.current, self.chatbot, sidebar.title, sidebar.conversations],
            **PRIVATE,
        )

    def finish_unseen(self, turn: AsyncIterator[ChatEvent]) -> None:
        """Let a turn run to its end (and be saved) without the page that began it."""

        async def drain() -> None:
            async for _ in turn:
                pass

        self.page.keep(drain(), "unseen-turn")

    async def stream_turn(
        self,
        owner: str,
        current: str,
        lang: Lang,
        before: Chat,
        turn: AsyncIterator[ChatEvent],
        request: gr.Request,
        continuing: MessageRecord | None = None,
        shown: bool = False,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Page updates (conversation, chat, Send button) for one streamed answer.

        The first piece at once, then at most one per `PageUpdates.interval()`. The chat as it
        was before the answer first, unless `shown` (the page shows it, with Send off, already):
        an update the page renders just before the first piece delays the piece. Send is off from
        the first (the service would refuse a second turn of this conversation) until the event is over.
        Once the page shows another conversation, the updates end (they would pull the page
        back) and the answer goes on unseen: it is there, whole, when the person returns.
        The event ends with them, so the person can send in the conversation they went to.
        """
        page = self.page
        live = LiveAnswer(before, lang, (await page.service.preferences(owner)).show_reasoning)
        if continuing is not None:
            live.add(Piece("reasoning", continuing.reasoning))
            live.add(Piece("content", continuing.content))
        # Send off in the answer's first update too, not only in the message's: with it only
        # there, the page showed Send on mid-answer.
        send_off: Any = gr.update(interactive=False)
        if not shown:
            yield current, live.render(), send_off
            send_off = gr.skip()
        last = 0.0
        with self.updates.streaming_page():
            async for event in turn:
                if isinstance(event, TurnEnded):
                    break
                live.add(event)
                now = time.monotonic()
                if now - last >= self.updates.interval():
                    last = now
                    if not page.acted.shows(request, current):
                        self.finish_unseen(turn)
                        return
                    yield current, live.render(), send_off
                    send_off = gr.skip()
        if page.acted.shows(request, current):
            yield current, await page.open(owner, current, lang), gr.skip()

    async def on_send(
        self, text: str, current: str | None, lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str, budget: float | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        page, service = self.page, self.page.service
        page.acted.mark(request, current)
        owner = await page.owner_of(request)
        with shown(lang):
            sampling = sampling_from(temperature, top_p, max_tokens, math, persona, budget)
            service.validate(text)
            page.admit(owner, request, lang)
            if not current:
                await service.quotas.check(owner)  # past the quota: no empty new chat left behind
                address = request.client.host if request.client else None
                current = (await service.new_conversation(owner, address=address)).id
                page.acted.mark(request, current)
            # Stored (or refused: a turn of this conversation still under way) before the box is
            # cleared, so a refused message stays where it was typed.
            history = await service.begin(owner, current, text)
        turn = service.answer(owner, current, history, sampling)
        before = await page.view(owner, history, lang)
        listed = await page.sidebar(owner, lang, current)
        yield "", current, before, listed, gr.skip(), gr.update(interactive=False)
        async for current_id, chat, button in self.stream_turn(owner, current, lang, before, turn, request, shown=True):
            yield gr.skip(), current_id, chat, gr.skip(), gr.skip(), button
        if not page.acted.shows(request, current):
            return
        title = (await service.conversation(owner, current)).title
        yield gr.skip(), current, gr.skip(), await page.sidebar(owner, lang, current), title, gr.skip()

    async def on_regenerate(
        self, current: str | None, lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str, budget: float | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        async def again(owner: str, conversation_id: str) -> Begun:
            return await self.page.service.begin_again(owner, conversation_id), None

        with shown(lang):
            settings = sampling_from(temperature, top_p, max_tokens, math, persona, budget)
        async for update in self.answer_again(current, lang, settings, again, request):
            yield update

    async def on_continue(
        self, current: str | None, lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str, budget: float | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        with shown(lang):
            settings = sampling_from(temperature, top_p, max_tokens, math, persona, budget)
        async for update in self.answer_again(current, lang, settings, self.page.service.begin_continuing, request):
            yield update

    async def answer_again(
        self,
        current: str | None,
        lang: Lang,
        sampling: Sampling,
        begin: Callable[[str, str], Awaitable[Begun]],
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """A turn on the stored chat (regenerate, continue): `begin` returns the history to answer
        and the cut answer to go on with, if any."""
        page = self.page
        page.acted.mark(request, current)
        owner = await page.owner_of(request)
        if not current:
            return
        page.admit(owner, request, lang)
        # Refused (a turn under way, nothing to answer again or go on with) before the chat changes.
        with shown(lang):
            history, cut = await begin(owner, current)
        turn = page.service.answer(owner, current, history, sampling, continuing=cut)
        before = await page.view(owner, history, lang)
        async for update in self.stream_turn(owner, current, lang, before, turn, request, continuing=cut):
            yield update

    async def on_turn_over(self, current: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Send again, once a turn's event is over (not at its last update: until the event
        ends, Gradio drops a second press of the key that began it); Continue if the answer was cut."""
        return gr.update(interactive=True), await self.on_shown(current, request)

    async def on_shown(self, current: str | None, request: gr.Request) -> Any:
        """Continue is offered only under an answer the length limit cut."""
        if not current:
            return gr.update(visible=False)
        history = await self.page.service.messages(await self.page.owner_of(request), current)
        cut = bool(history) and history[-1].role == "assistant" and history[-1].state == MessageState.TRUNCATED
        return gr.update(visible=cut)

    async def on_stopped(self, current: str | None, lang: Lang, request: gr.Request) -> Any:
        """After a stop, show the answer as it was saved (with its partial text and state)."""
        if not current:
            return gr.skip()
        owner = await self.page.owner_of(request)
        await self.page.service.settled_messages(owner, current)
        return await self.page.open(owner, current, lang)  # with its versions' arrows

    async def on_edited(
        self, current: str | None, lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str, budget: float | None,
        edit: gr.EditData, request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        """One of the person's messages edited in the chat: it and what followed go, and the new text is answered."""
        page = self.page
        page.acted.mark(request, current)
        owner = await page.owner_of(request)
        if not current:
            return
        history = await page.service.messages(owner, current)
        shown_chat = await page.view(owner, history, lang)
        # The chat shows each user message as one entry: the edited one is the n-th of theirs.
        position = edit.index if isinstance(edit.index, int) else edit.index[0]
        n = len([entry for entry in shown_chat[:position] if entry["role"] == "user"])
        mine = [m for m in history if m.role == "user"]
        sampling = sampling_from(temperature, top_p, max_tokens, math, persona, budget)
        page.admit(owner, request, lang)
        try:
            with shown(lang):
                if n >= len(mine):
                    page.service.validate("")  # nothing of theirs there: refused as an empty message
                kept = await page.service.begin(owner, current, str(edit.value), replacing=mine[n].id)
        except gr.Error:
            yield current, shown_chat, gr.skip()  # refused: the chat as it is stored, their text not lost
            raise
        turn = page.service.answer(owner, current, kept, sampling)
        async for update in self.stream_turn(owner, current, lang, await page.view(owner, kept, lang), turn, request):
            yield update

    async def on_clear(self, current: str | None, lang: Lang, search: str, request: gr.Request) -> tuple[Any, ...]:
        """The trash deletes the open chat as the list's Delete does (`Sidebar.delete`): an undo bar follows."""
        if not current:
            return None, [], "", gr.skip()
        return await self.sidebar.delete(current, current, search or "", lang, request)
