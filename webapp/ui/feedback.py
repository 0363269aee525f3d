"""👍/👎 on the chat's answers (Gradio's `.like`), an optional note after it, and the ratings shown again
when a chat is opened. Ratings are kept through `webapp.chat.feedback`, as the REST API keeps them."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.chat.feedback import Ratings
from webapp.db.records import MessageRecord
from webapp.ui.bubbles import answer_bubbles
from webapp.ui.context import PRIVATE, Page, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t

# Gradio's own feedback values: these two render as thumbs.
LIKE, DISLIKE = "Like", "Dislike"
SHOWN = {1: LIKE, -1: DISLIKE}


def spans(history: list[MessageRecord], lang: Lang, show_reasoning: bool) -> list[tuple[int, MessageRecord]]:
    """Where each message starts among the chat's entries (an answer may be a thought and a reply)."""
    out, at = [], 0
    for message in history:
        out.append((at, message))
        at += 1 if message.role == "user" else len(answer_bubbles(message, lang, show_reasoning))
    return out


def answer_at(history: list[MessageRecord], index: int, lang: Lang, show_reasoning: bool) -> MessageRecord | None:
    """The answer shown at the chat's entry `index`, if an answer is there."""
    found = [message for start, message in spans(history, lang, show_reasoning) if start <= index]
    return found[-1] if found and found[-1].role == "assistant" else None


class FeedbackControls:
    """Built in the chat tab under the chat; `wire` connects it to the chat's thumbs."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.ratings = Ratings(page.service.store)
        labels = page.labels
        self.rated = gr.State(None)  # the id of the answer last rated, whose note the box edits
        with gr.Row(visible=False, equal_height=True, elem_id="feedback-row") as self.row:
            # One line, its label as placeholder: the row sits above the message box, which it pushes down.
            self.note = labels.add_update(
                gr.Textbox(label=t("feedback_note", DEFAULT_LANG), show_label=False, max_lines=3, scale=6,
                           placeholder=t("feedback_note", DEFAULT_LANG), elem_id="feedback-note"),
                lambda lang: gr.update(label=t("feedback_note", lang), placeholder=t("feedback_note", lang)),
            )  # fmt: skip
            self.save = labels.add(
                gr.Button(t("feedback_save", DEFAULT_LANG), scale=1, min_width=80, elem_id="feedback-save"),
                "feedback_save", "value",
            )  # fmt: skip

    def wire(self, chatbot: gr.Chatbot) -> None:
        page = self.page
        quiet: dict[str, Any] = {"show_progress": "hidden", **PRIVATE}
        chatbot.like(self.on_like, [page.current, page.lang], [self.row, self.note, self.rated], **quiet)
        self.save.click(self.on_note, [page.current, self.rated, self.note, page.lang], [self.row], **quiet)
        page.current.change(self.on_shown, [page.current, self.rated], [chatbot, self.row], **quiet)

    async def _history(self, owner: str, current: str) -> tuple[list[MessageRecord], bool]:
        history = await self.page.service.messages(owner, current)
        return history, (await self.page.service.preferences(owner)).show_reasoning

    async def on_like(self, current: str | None, lang: Lang, data: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
        """👍 or 👎 rates the answer (the note it had stays); pressed again, the rating is taken back."""
        if not current:
            return gr.skip(), gr.skip(), gr.skip()
        owner = await self.page.owner_of(request)
        history, show_reasoning = await self._history(owner, current)
        index = data.index if isinstance(data.index, int) else data.index[0]
        answer = answer_at(history, index, lang, show_reasoning)
        if answer is None:
            return gr.skip(), gr.skip(), gr.skip()
        with shown(lang):
            if data.liked not in (True, False):  # the thumb pressed again: no rating
                await self.ratings.unrate(owner, current, answer.id)
                return gr.update(visible=False), "", None
            kept = (await self.ratings.of_conversation(owner, current)).get(answer.id)
            note = kept.note if kept else ""
            await self.ratings.rate(owner, current, answer.id, "up" if data.liked else "down", note)
        return gr.update(visible=True), note, answer.id

    async def on_note(self, current: str | None, rated: int | None, note: str, lang: Lang, request: gr.Request) -> Any:
        """Keep the note with the rating just given; the box goes once it is kept."""
        if not current or rated is None:
            return gr.update(visible=False)
        owner = await self.page.owner_of(request)
        with shown(lang):
            kept = (await self.ratings.of_conversation(owner, current)).get(rated)
            if kept is not None:
                await self.ratings.rate(owner, current, rated, "up" if kept.rating > 0 else "down", note)
        return gr.update(visible=False)

    async def on_shown(self, current: str | None, noted: int | None, request: gr.Request) -> tuple[Any, ...]:
        """The chat opened shows the thumbs it was given (one value per answer, in order).

        The note box stays when the answer it is for is in the chat now shown: a new chat becomes
        the page's current one just after its answer ends, and a thumb pressed in that moment
        must not lose its box."""
        if not current:
            return gr.update(feedback_value=[]), gr.update(visible=False)
        owner = await self.page.owner_of(request)
        history = await self.page.service.messages(owner, current)
        rated = await self.ratings.of_conversation(owner, current)
        values = [SHOWN[rated[m.id].rating] if m.id in rated else None for m in history if m.role == "assistant"]
        here = noted is not None and any(m.id == noted for m in history)
        return gr.update(feedback_value=values), gr.skip() if here else gr.update(visible=False)
