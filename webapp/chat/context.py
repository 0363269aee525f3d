"""Fitting a conversation and its answer into the model's context window (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webapp.db.records import MessageRecord
from webapp.errors import ContextTooLong

# Leave the answer at least this many tokens, or it is cut before it can say anything.
MIN_ANSWER_TOKENS = 16
# Qwen's tokenizer is a byte-level BPE: no token is shorter than one UTF-8 byte, so a prompt
# has at most as many tokens as bytes, plus the template's special tokens (two per message,
# the start of the text and of the answer, `<think>`): these allowances are generous.
TEMPLATE_TOKENS_PER_MESSAGE = 8
TEMPLATE_TOKENS = 32
# Room kept for the answer when fitting history and no max tokens was asked for:
# R1 thinks at length, so a few hundred tokens would cut most answers short.
DEFAULT_ANSWER_RESERVE = 1024


def answer_budget(prompt_tokens: int, max_model_len: int, requested: int | None) -> int:
    """The max tokens to ask for: what was requested (None: all), clamped to what still fits."""
    room = max_model_len - prompt_tokens
    if room < MIN_ANSWER_TOKENS:
        raise ContextTooLong(
            f"This message needs {prompt_tokens:,} tokens, and the model's context holds "
            f"{max_model_len:,} with room for an answer.",
            hint="Shorten the message, or start a new conversation.",
            code="context_full",
            params={"needed": prompt_tokens, "limit": max_model_len},
        )
    return room if requested is None else max(1, min(requested, room))


def prompt_token_bound(messages: Sequence[Mapping[str, Any]], prefix: str | None = None) -> int:
    """Tokens the prompt cannot exceed, from its size alone: enough to skip counting a prompt that surely fits."""
    size = sum(len(str(m.get("content", "")).encode()) for m in messages) + len((prefix or "").encode())
    return size + TEMPLATE_TOKENS_PER_MESSAGE * len(messages) + TEMPLATE_TOKENS


def history_target(max_model_len: int, requested: int | None) -> int:
    """How many tokens the prompt may use so that the answer keeps its reserve."""
    reserve = requested if requested is not None else DEFAULT_ANSWER_RESERVE
    return max_model_len - min(reserve, max_model_len // 2)


def cut_points(messages: Sequence[Mapping[str, Any]]) -> list[int]:
    """Where the conversation may start once older turns are left out, oldest cut first.

    Each cut starts at a user turn (with the persona text just before it, if any);
    the last cut keeps the newest user message alone.
    """
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    return [u - 1 if u > 0 and messages[u - 1].get("role") == "system" else u for u in users[1:]]


def model_messages(history: Sequence[MessageRecord]) -> list[dict[str, str]]:
    """Stored messages (a branch) as model input: answers only; failed answers with no text left out."""
    out: list[dict[str, str]] = []
    for message in history:
        if message.role == "assistant" and not message.content.strip():
            continue
        out.append({"role": message.role, "content": message.content})
    return out
