"""Fitting a conversation and its answer into the model's context window."""

from __future__ import annotations

from webapp.errors import ContextTooLong

# Leave the answer at least this many tokens, or it is cut before it can say anything.
MIN_ANSWER_TOKENS = 16


def answer_budget(prompt_tokens: int, max_model_len: int, requested: int | None) -> int:
    """The max tokens to ask for: what was requested (None: all), clamped to what still fits."""
    room = max_model_len - prompt_tokens
    if room < MIN_ANSWER_TOKENS:
        raise ContextTooLong(
            f"This message needs {prompt_tokens:,} tokens, and the model's context holds "
            f"{max_model_len:,} with room for an answer.",
            hint="Shorten the message, or start a new conversation.",
        )
    return room if requested is None else max(1, min(requested, room))
