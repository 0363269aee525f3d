"""The Gradio chat page: thin, it turns the chat service's events into page updates."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import gradio as gr

from webapp.chat import ChatService
from webapp.client import StreamEnd
from webapp.errors import AppError
from webapp.prompt import text_of

# One page update per this many seconds at most: a browser re-renders on every
# update and falls behind at about 180 updates/s, while a fast engine writes more.
UPDATE_INTERVAL = 0.05

LATEX_DELIMITERS: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
]

THINKING = "思考中…"
THOUGHT = "思考过程"
ERROR_PREFIX = "⚠️ "


def history_messages(history: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The chat so far as model messages: thought blocks and error notes are left out."""
    messages: list[dict[str, str]] = []
    for message in history:
        metadata = message.get("metadata") or {}
        if metadata.get("title"):
            continue  # a thought block: R1 must never see its old reasoning
        text = text_of(message.get("content"))
        if message.get("role") == "assistant" and text.startswith(ERROR_PREFIX):
            continue
        messages.append({"role": str(message.get("role")), "content": text})
    return messages


class ChatView:
    """Renders one streamed answer as a thought block and an answer bubble."""

    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history = history
        self.started = time.monotonic()
        self.reasoning = ""
        self.answer = ""
        self.thought_done_at: float | None = None

    def add(self, kind: str, text: str) -> None:
        if kind == "reasoning":
            self.reasoning += text
        else:
            if self.thought_done_at is None:
                self.thought_done_at = time.monotonic()
            self.answer += text

    def render(self, *, finished: bool = False, error: str | None = None) -> list[dict[str, Any]]:
        out = list(self.history)
        if self.reasoning:
            done = finished or self.thought_done_at is not None
            duration = (self.thought_done_at or time.monotonic()) - self.started
            metadata: dict[str, Any] = {
                "title": THOUGHT if done else THINKING,
                "status": "done" if done else "pending",
            }
            if done:
                metadata["duration"] = round(duration, 1)
            out.append({"role": "assistant", "content": self.reasoning, "metadata": metadata})
        if self.answer:
            out.append({"role": "assistant", "content": self.answer})
        if error:
            out.append({"role": "assistant", "content": f"{ERROR_PREFIX}{error}"})
        return out


def build_ui(service: ChatService) -> gr.Blocks:
    """The chat page, wired to `service`."""

    async def respond(user_text: str, history: list[dict[str, Any]]) -> AsyncIterator[tuple[Any, ...]]:
        prior = history_messages(history)
        shown = [*history, {"role": "user", "content": user_text}]
        view = ChatView(shown)
        yield "", view.render()
        last = time.monotonic()
        try:
            async for event in service.stream(prior, user_text):
                if isinstance(event, StreamEnd):
                    continue
                first = not view.reasoning and not view.answer
                view.add(event.kind, event.text)
                now = time.monotonic()
                if first or now - last >= UPDATE_INTERVAL:
                    last = now
                    yield gr.skip(), view.render()
        except AppError as exc:
            yield gr.skip(), view.render(finished=True, error=str(exc))
            return
        yield gr.skip(), view.render(finished=True)

    blocks = gr.Blocks(title="DeepSeek-R1-Distill-Qwen-1.5B", analytics_enabled=False)
    with blocks:
        gr.Markdown("### DeepSeek-R1-Distill-Qwen-1.5B")
        chatbot = gr.Chatbot(
            elem_id="chat",
            show_label=False,
            height="70vh",
            latex_delimiters=LATEX_DELIMITERS,
            buttons=["copy"],
            feedback_options=None,
            sanitize_html=True,
            placeholder="向 DeepSeek-R1 提问，按 Enter 发送",
        )
        with gr.Row():
            box = gr.Textbox(
                elem_id="prompt",
                show_label=False,
                placeholder="输入消息，按 Enter 发送",
                scale=8,
                autofocus=True,
                lines=1,
                max_lines=8,
            )
            send = gr.Button("发送", elem_id="send", variant="primary", scale=1)
            stop = gr.Button("停止", elem_id="stop", scale=1)
        # No concurrency limit: vLLM batches many chats; Gradio's default of 1 would queue them.
        events: list[Any] = [
            trigger(respond, [box, chatbot], [box, chatbot], concurrency_limit=None, api_visibility="private")
            for trigger in (box.submit, send.click)
        ]
        stop.click(None, cancels=events, api_visibility="private")
    return blocks
