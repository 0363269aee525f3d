"""How an answer is sampled, and an owner's saved settings (sampling, and whether the thinking shows)."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.errors import InvalidInput
from webapp.llm.client import DEFAULT_MAX_TOKENS, RECOMMENDED_TEMPERATURE, RECOMMENDED_TOP_P

MAX_PERSONA_CHARS = 4_000


@dataclass(frozen=True, slots=True)
class Sampling:
    """How one answer is sampled; the defaults are the model card's."""

    temperature: float = RECOMMENDED_TEMPERATURE
    top_p: float = RECOMMENDED_TOP_P
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    math: bool = False
    persona: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 2:
            raise InvalidInput(f"Temperature must be between 0 and 2, not {self.temperature}.")
        if not 0 < self.top_p <= 1:
            raise InvalidInput(f"top_p must be above 0 and at most 1, not {self.top_p}.")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InvalidInput(f"max_tokens must be at least 1, not {self.max_tokens}.")
        if len(self.persona) > MAX_PERSONA_CHARS:
            raise InvalidInput(f"The persona text is longer than {MAX_PERSONA_CHARS:,} characters.")


@dataclass(frozen=True, slots=True)
class Preferences:
    """An owner's settings: how their next answers are sampled and shown."""

    temperature: float = RECOMMENDED_TEMPERATURE
    top_p: float = RECOMMENDED_TOP_P
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    math: bool = False
    show_reasoning: bool = True
    persona: str = ""

    def sampling(self) -> Sampling:
        return Sampling(self.temperature, self.top_p, self.max_tokens, self.math, self.persona)
