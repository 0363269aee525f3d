"""An answer as it is being written: its pieces, timings and token counts, and the columns it is stored with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from webapp.db.records import MessageRecord
from webapp.db.tables import MessageState
from webapp.errors import AppError
from webapp.llm.client import StreamEnd
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import Sampling

#: Less time than this from the first token's arrival to the last's gives no rate: an answer read
#: whole at once divides by next to nothing (hundreds of thousands tok/s), while over 20 ms a
#: millisecond of scheduling jitter moves the figure by 5 % at most.
MIN_RATE_SECONDS = 0.02


def decode_rate(tokens: int, first_tokens: int, first: float | None, last: float | None) -> float | None:
    """Tokens per second while the answer was written: the tokens that came after the first arrival,
    over the time from it to the last token; None where that time is too short to be a figure."""
    if first is None or last is None or last - first < MIN_RATE_SECONDS or tokens <= first_tokens:
        return None
    return (tokens - first_tokens) / (last - first)


def turn_cost(end: StreamEnd | None, prompt_estimate: int | None, pieces: int) -> tuple[int, int] | None:
    """The (prompt, completion) tokens a turn cost: the engine's own counts; for a stream cut before
    it gave them, the prompt as fitting it counted (or bounded) it and the tokens that came; None
    when nothing came (the engine refused the request, or was never asked)."""
    if end is not None and end.prompt_tokens is not None and end.completion_tokens is not None:
        return end.prompt_tokens, end.completion_tokens
    if prompt_estimate is None or not pieces:
        return None
    return prompt_estimate, pieces


@dataclass
class Draft:
    """An answer being written."""

    started: float = field(default_factory=time.monotonic)
    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    reasoning_deltas: int = 0  # stream deltas (about a token each), as the pieces say
    answer_deltas: int = 0
    first_token: float | None = None
    first_tokens: int = 0  # how many tokens came with the first token's arrival
    last_token: float | None = None
    answer_began: float | None = None
    end: StreamEnd | None = None
    message_id: int | None = None
    earlier_reasoning_tokens: int = 0  # a continued answer keeps its first part's counts
    earlier_answer_tokens: int = 0
    prompt_estimate: int | None = None  # the prompt's tokens as counted to fit it, or their bound

    @classmethod
    def continuing(cls, message: MessageRecord) -> Draft:
        return cls(
            reasoning=[message.reasoning] if message.reasoning else [],
            content=[message.content] if message.content else [],
            answer_began=time.monotonic() if message.content else None,
            message_id=message.id,
            earlier_reasoning_tokens=message.reasoning_tokens or 0,
            earlier_answer_tokens=message.answer_tokens or 0,
        )

    def add(self, piece: Piece) -> None:
        now = time.monotonic()
        if self.first_token is None:
            self.first_token = now
        if now == self.first_token:
            self.first_tokens += piece.tokens
        self.last_token = now
        if piece.kind == "reasoning":
            self.reasoning.append(piece.text)
            self.reasoning_deltas += piece.tokens
        else:
            if self.answer_began is None:
                self.answer_began = now
            self.content.append(piece.text)
            self.answer_deltas += piece.tokens

    def spent(self) -> tuple[int, int] | None:
        """The (prompt, completion) tokens this turn cost (`turn_cost`)."""
        return turn_cost(self.end, self.prompt_estimate, self.reasoning_deltas + self.answer_deltas)

    def fields(self) -> dict[str, Any]:
        now = time.monotonic()
        completion = self.end.completion_tokens if self.end else None
        answer_deltas = self.answer_deltas
        answer_tokens = completion - self.reasoning_deltas if completion is not None else answer_deltas
        generated = completion if completion is not None else self.reasoning_deltas + answer_deltas
        return {
            "content": "".join(self.content),
            "reasoning": "".join(self.reasoning),
            "finish_reason": self.end.finish_reason if self.end else None,
            "prompt_tokens": self.end.prompt_tokens if self.end else None,
            "reasoning_tokens": self.earlier_reasoning_tokens + self.reasoning_deltas,
            "answer_tokens": self.earlier_answer_tokens + max(answer_tokens, 0),
            "ttft_ms": (self.first_token - self.started) * 1000 if self.first_token is not None else None,
            "tokens_per_s": decode_rate(generated, self.first_tokens, self.first_token, self.last_token),
            "thinking_s": ((self.answer_began or now) - self.started) if self.reasoning else None,
        }


def final_fields(
    draft: Draft, state: MessageState, error: AppError | None, model: str | None, sampling: Sampling
) -> dict[str, Any]:
    """The stored answer's columns as its turn ends."""
    return draft.fields() | {
        "state": state,
        "error": str(error) if error else None,
        "model": model,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "math": sampling.math,
        "thinking_budget": sampling.thinking_budget,
    }
