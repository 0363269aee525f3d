"""How one answer is sampled: the one type every layer passes through, with the model card's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.errors import InvalidInput

RECOMMENDED_TEMPERATURE = 0.6
RECOMMENDED_TOP_P = 0.95
# None: as many as fit in the context, so R1's long thinking is not cut at an arbitrary 2048.
DEFAULT_MAX_TOKENS: int | None = None
MAX_PERSONA_CHARS = 4_000
MAX_THINKING_BUDGET = 1_000_000  # tokens; more than any context R1 runs with


@dataclass(frozen=True, slots=True)
class Sampling:
    """How one answer is sampled; the defaults are the model card's. Out-of-range values are refused here.

    `math` adds R1's math instruction to the prompt; `persona` is a system text the chat service
    puts before the newest message (the client sends the messages it is given). `thinking_budget`
    caps the thinking, in tokens (None: no cap): the engine then closes the thought and the answer follows.
    """

    temperature: float = RECOMMENDED_TEMPERATURE
    top_p: float = RECOMMENDED_TOP_P
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    math: bool = False
    persona: str = ""
    thinking_budget: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 2:
            raise InvalidInput(
                f"Temperature must be between 0 and 2, not {self.temperature}.",
                code="temperature_range",
                params={"value": self.temperature},
            )
        if not 0 < self.top_p <= 1:
            raise InvalidInput(
                f"top_p must be above 0 and at most 1, not {self.top_p}.",
                code="top_p_range",
                params={"value": self.top_p},
            )
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InvalidInput(
                f"max_tokens must be at least 1, not {self.max_tokens}.",
                code="max_tokens_range",
                params={"value": self.max_tokens},
            )
        if self.thinking_budget is not None and not 1 <= self.thinking_budget <= MAX_THINKING_BUDGET:
            raise InvalidInput(
                f"The thinking budget must be between 1 and {MAX_THINKING_BUDGET:,} tokens"
                f" (or none), not {self.thinking_budget}.",
                code="thinking_budget_range",
                params={"value": self.thinking_budget, "limit": MAX_THINKING_BUDGET},
            )
        if len(self.persona) > MAX_PERSONA_CHARS:
            raise InvalidInput(
                f"The persona text is longer than {MAX_PERSONA_CHARS:,} characters.",
                code="persona_too_long",
                params={"limit": MAX_PERSONA_CHARS},
            )


RECOMMENDED = Sampling()
