"""The chat service: one place that runs a chat turn, for the API and the UI alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from webapp.client import (
    DEFAULT_MAX_TOKENS,
    RECOMMENDED_TEMPERATURE,
    RECOMMENDED_TOP_P,
    ModelClient,
    StreamEvent,
)
from webapp.context import answer_budget
from webapp.engine import Engine
from webapp.errors import InvalidInput

MAX_MESSAGE_CHARS = 32_000


@dataclass(frozen=True, slots=True)
class Sampling:
    """How one answer is sampled; the defaults are the model card's."""

    temperature: float = RECOMMENDED_TEMPERATURE
    top_p: float = RECOMMENDED_TOP_P
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    math: bool = False


class ChatService:
    """Checks input and engine readiness, then streams the model's answer."""

    def __init__(self, engine: Engine, client: ModelClient) -> None:
        self.engine = engine
        self.client = client

    async def stream(
        self, history: Sequence[Mapping[str, object]], user_text: str, sampling: Sampling | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Answer `user_text` after `history` (OpenAI-style messages), piece by piece."""
        sampling = sampling or Sampling()
        text = validate_message(user_text)
        self.engine.require_ready()
        messages = [*history, {"role": "user", "content": text}]
        max_tokens = sampling.max_tokens
        if (cost := await self.client.acount_tokens(messages, math=sampling.math)) is not None:
            max_tokens = answer_budget(cost.count, cost.max_model_len, max_tokens)
        async for event in self.client.astream(
            messages,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=max_tokens,
            math=sampling.math,
        ):
            yield event


def validate_message(text: object) -> str:
    """The user's message, or a clear reason it cannot be sent."""
    if not isinstance(text, str):
        raise InvalidInput(f"A message must be text, not {type(text).__name__}.")
    if not text.strip():
        raise InvalidInput("The message is empty.", hint="Type a question first.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"The message has {len(text):,} characters; the limit is {MAX_MESSAGE_CHARS:,}.",
            hint="Shorten it or split it over several messages.",
        )
    return text
