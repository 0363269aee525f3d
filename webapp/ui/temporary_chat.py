"""The temporary chat: a switch in the sidebar, and a chat of its own that is saved nowhere.

With the switch on, the stored chat makes way for this one; its history lives in the page
(a `gr.State`) and goes when the switch is turned off or the page is left. Its turns go
through the chat service's temporary turn (`webapp.chat.temporary`), as the REST API's do.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from webapp.chat.events import TurnEnded
from webapp.chat.temporary import answer_temporary, begin_temporary, unsaved_question
from webapp.db.records import MessageRecord
from webapp.ui.bubbles import LATEX_DELIMITERS, LiveAnswer, render
from webapp.ui.context import PRIVATE, Page, sampling_from, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t
from webapp.ui.streaming import PageUpdates

STREAMING: dict[str, Any] = {"concurrency_limit": None, "show_progress": "hidden", **PRIVATE}


class TemporaryChat:
    """The switch in the sidebar and a chat in the chat tab; `wire` takes the stored chat's column, to hide it."""

    def __init__(self, page: Page) -> None:
        """The switch, built in the sidebar (above the chat it would push the message box off a phone's screen)."""
        self.page = page
        self.updates = PageUpdates()
        self.switch = page.labels.add(
            gr.Checkbox(label=t("temporary_switch", DEFAULT_LANG), value=False, elem_id="temporary-switch"),
            "temporary_switch",
        )
        self.history = gr.State([])  # the chat's messages (MessageRecords with id 0), oldest first

    def build_chat(self) -> None:
        """The temporary chat itself, built in the chat tab, hidden until the switch is on."""
        labels = self.page.labels
        with gr.Column(visible=False, elem_id="temporary-chat") as self.column:
            self.note = labels.add(gr.Markdown(t("temporary_note", DEFAULT_LANG), elem_id="temporary-note"),
                                   "temporary_note", "value")  # fmt: skip
            self.chatbot = gr.Chatbot(
                elem_id="temporary-chatbot",
                show_label=False,
                height="60vh",
                latex_delimiters=LATEX_DELIMITERS,
                buttons=["copy"],
                sanitize_html=True,
                allow_tags=False,
            )
            with gr.Row(equal_height=True):
                self.box = labels.add_update(
                    gr.Textbox(elem_id="temporary-prompt", label=t("message_box", DEFAULT_LANG), show_label=False,
                               placeholder=t("prompt", DEFAULT_LANG), scale=8, lines=1, max_lines=8),
                    lambda lang: gr.update(label=t("message_box", lang), placeholder=t("prompt", lang)),
                )  # fmt: skip
                self.send = labels.add(
                    gr.Button(t("send", DEFAULT_LANG), elem_id="temporary-send", variant="primary", scale=1,
                              min_width=80),
                    "send", "value",
                )  # fmt: skip
                self.stop = labels.add(
                    gr.Button(t("stop", DEFAULT_LANG), elem_id="temporary-stop", scale=1, min_width=80),
                    "stop", "value",
                )  # fmt: skip

    def wire(self, saved: gr.Column, sampling: list[Any]) -> None:
        def on_switch(on: bool) -> tuple[Any, ...]:
            # Off: the temporary chat is gone, as said; on: a new, empty one.
            return gr.update(visible=not on), gr.update(visible=on), [], []

        self.switch.change(on_switch, [self.switch], [saved, self.column, self.history, self.chatbot], **PRIVATE)
        self.chatbot.clear(lambda: [], None, [self.history], **PRIVATE)  # the trash: a new temporary chat
        inputs = [self.box, self.history, self.page.lang, *sampling]
        outputs = [self.box, self.chatbot, self.history, self.send]
        turns: list[Any] = [
            trigger(self.on_send, inputs, outputs, **STREAMING) for trigger in (self.box.submit, self.send.click)
        ]
        for turn in turns:
            turn.then(lambda: gr.update(interactive=True), None, [self.send], **PRIVATE)
        # Stopped, the question stays in the chat's history and the answer so far only on the screen:
        # the model is not sent an answer it never finished.
        self.stop.click(None, cancels=turns, **PRIVATE).then(
            lambda: gr.update(interactive=True), None, [self.send], **PRIVATE
        )

    async def on_send(
        self, text: str, history: list[MessageRecord], lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str, budget: float | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        """Answer in the temporary chat; a refusal (quota, rate, an empty message) leaves the text in the box."""
        page, service = self.page, self.page.service
        owner = await page.owner_of(request)
        with shown(lang):
            sampling = sampling_from(temperature, top_p, max_tokens, math, persona, budget)
            earlier = [{"role": m.role, "content": m.content} for m in history]
            messages = await begin_temporary(service, owner, earlier, text)
        page.admit(owner, request, lang)
        show = (await service.preferences(owner)).show_reasoning
        asked = [*history, unsaved_question(text)]
        live = LiveAnswer(render(asked, lang, show), lang, show)
        yield "", live.render(), asked, gr.update(interactive=False)  # a stop keeps the question
        answer: MessageRecord | None = None
        last = 0.0
        with self.updates.streaming_page():
            async for event in answer_temporary(service, owner, messages, sampling):
                if isinstance(event, TurnEnded):
                    answer = event.message
                    break
                live.add(event)
                if time.monotonic() - last >= self.updates.interval():
                    last = time.monotonic()
                    yield gr.skip(), live.render(), gr.skip(), gr.skip()
        kept = [*asked, answer] if answer is not None else asked
        yield gr.skip(), render(kept, lang, show), kept, gr.skip()
