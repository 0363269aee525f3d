"""Stored and streaming messages as the chat shows them: thought block, answer, state, figures."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from webapp.chat.events import ChatEvent, Notice
from webapp.chat.render import display
from webapp.db.records import MessageRecord
from webapp.db.tables import MessageState
from webapp.llm.reasoning import Piece
from webapp.ui.i18n import Lang, t

LATEX_DELIMITERS: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
]

Chat = list[dict[str, Any]]


# Inside a figure ("first token 40 ms"): a narrow screen breaks the line between figures, not in one.
KEEP_TOGETHER = "\u00a0"


def stats_line(message: MessageRecord, lang: Lang) -> str:
    """Time to first token, tokens/s, thinking and answer tokens, under an answer."""
    parts: list[str] = []
    if message.ttft_ms is not None:
        parts.append(f"{t('ttft', lang)} {message.ttft_ms:.0f} ms")
    if message.tokens_per_s is not None:
        parts.append(f"{message.tokens_per_s:.1f} tok/s")
    if message.reasoning_tokens is not None:
        parts.append(f"{t('reasoning_tokens', lang)} {message.reasoning_tokens} tok")
    if message.answer_tokens is not None:
        parts.append(f"{t('answer_tokens', lang)} {message.answer_tokens} tok")
    return " · ".join(part.replace(" ", KEEP_TOGETHER) for part in parts)


def thought_block(reasoning: str, lang: Lang, *, done: bool, seconds: float | None, note: str = "") -> dict[str, Any]:
    """`seconds`: how long the thinking took (None: not known, as in histories from before it was kept)."""
    metadata: dict[str, Any] = {"title": t("thought", lang), "status": "done"}
    if seconds is not None and seconds < 0.1:  # Gradio shows no duration that rounds to 0: the title says it
        metadata["title"] += f" ({t('thought_quick', lang)})"
    elif seconds is not None:
        metadata["duration"] = round(seconds, 1)
    if not done:
        seconds = seconds or 0.0
        metadata = {"title": f"{t('thinking', lang)} {seconds:.0f}s", "status": "pending"}
    content = display(reasoning) + (f"\n\n<sub>{note}</sub>" if note else "")
    return {"role": "assistant", "content": content, "metadata": metadata}


def budget_note(message: MessageRecord, lang: Lang) -> str:
    """Said under a thought the thinking budget cut: one that had a budget and reached it."""
    budget, spent = message.thinking_budget, message.reasoning_tokens
    cut = budget is not None and spent is not None and spent >= budget
    return f"✂ {t('budget_cut', lang).format(n=budget)}" if cut else ""


def answer_bubbles(message: MessageRecord, lang: Lang, show_reasoning: bool = True, versions: str = "") -> Chat:
    """A stored answer as the chat shows it: thought block, answer, state, figures, `versions` (markup)."""
    out: Chat = []
    if message.reasoning and show_reasoning:
        note = budget_note(message, lang)
        out.append(thought_block(message.reasoning, lang, done=True, seconds=message.thinking_s, note=note))
    body = display(message.content)
    notes = []
    if message.state == MessageState.STOPPED:
        notes.append(f"⏹ {t('stopped', lang)}")
    elif message.state == MessageState.STREAMING:  # a turn the page left goes on unseen (`stream_turn`)
        notes.append(f"⏳ {t('writing', lang)}")
    elif message.state == MessageState.TRUNCATED:
        notes.append(f"✂ {t('truncated', lang)}")
    elif message.state == MessageState.ERROR:
        notes.append(f"⚠️ {t('error', lang)}: {display(message.error or '')}")
    figures = stats_line(message, lang)
    if figures and message.state != MessageState.ERROR:
        notes.append(figures)
    if versions:
        notes.append(versions)
    footer = "\n\n".join(f"<sub>{note}</sub>" for note in notes)
    content = "\n\n".join(part for part in (body, footer) if part)
    if content:
        out.append({"role": "assistant", "content": content})
    return out


def render(
    history: Sequence[MessageRecord], lang: Lang, show_reasoning: bool = True, versions: Mapping[int, str] | None = None
) -> Chat:
    """The chat; `versions`: the arrows' markup under an answer, by its id (`ui/version_nav.py`)."""
    chat: Chat = []
    for message in history:
        if message.role == "user":
            chat.append({"role": "user", "content": display(message.content)})
        else:
            chat.extend(answer_bubbles(message, lang, show_reasoning, (versions or {}).get(message.id, "")))
    return chat


class LiveAnswer:
    """One answer being streamed, rendered after the chat so far."""

    def __init__(self, before: Chat, lang: Lang, show_reasoning: bool = True) -> None:
        self.before = before
        self.lang = lang
        self.show_reasoning = show_reasoning
        self.started = time.monotonic()
        self.reasoning = ""
        self.answer = ""
        self.notice = ""
        self.answer_began: float | None = None

    def add(self, event: ChatEvent) -> None:
        if isinstance(event, Notice):
            self.notice = event.text
        elif isinstance(event, Piece):
            if event.kind == "reasoning":
                self.reasoning += event.text
            else:
                self.answer_began = self.answer_began or time.monotonic()
                self.answer += event.text

    def render(self) -> Chat:
        chat = list(self.before)
        if self.notice:
            chat.append({"role": "assistant", "content": f"<sub>ℹ️ {display(self.notice)}</sub>"})
        if self.reasoning and self.show_reasoning:
            done = self.answer_began is not None
            seconds = (self.answer_began or time.monotonic()) - self.started
            chat.append(thought_block(self.reasoning, self.lang, done=done, seconds=seconds))
        if self.answer:
            chat.append({"role": "assistant", "content": display(self.answer)})
        return chat
