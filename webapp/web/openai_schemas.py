"""What `/v1` takes and gives, in OpenAI's wire format, so that `/docs` describes it too.

Requests allow fields the app does not use (clients send `presence_penalty`, `user` and the
like by default): a client written for OpenAI must not fail on them. Roles are the ones R1 can
be told (`system` and `developer` join the next user turn).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from webapp.llm.sampling import MAX_THINKING_BUDGET

# -- requests ---------------------------------------------------------------------------------


class Lenient(BaseModel):
    """A request part that ignores fields it does not know, as OpenAI-compatible servers do."""

    model_config = ConfigDict(extra="allow")


class MessageIn(Lenient):
    """One message of the history a client sends. An assistant's `reasoning_content` or `reasoning`
    is read and dropped: R1 is never shown its earlier thinking."""

    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | list[dict[str, Any]] | None = None


class StreamOptions(Lenient):
    include_usage: StrictBool = False


class ChatRequest(Lenient):
    model: StrictStr
    messages: list[MessageIn] = Field(min_length=1)
    temperature: StrictFloat | StrictInt | None = None
    top_p: StrictFloat | StrictInt | None = None
    max_tokens: StrictInt | None = None
    max_completion_tokens: StrictInt | None = None
    stream: StrictBool | None = False
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(None, ge=1, le=1, description="Only one choice is made.")
    thinking_budget: StrictInt | None = Field(
        None, ge=0, le=MAX_THINKING_BUDGET, description="Tokens R1 may think for; 0 or null: no cap."
    )
    thinking_token_budget: StrictInt | None = Field(
        None, ge=0, le=MAX_THINKING_BUDGET, description="The same, by vLLM's name for it (`extra_body`)."
    )

    @property
    def budget(self) -> int | None:
        """The thinking budget asked for, by either name (None: no cap)."""
        return self.thinking_budget or self.thinking_token_budget or None


# -- answers ----------------------------------------------------------------------------------


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageOut(BaseModel):
    """The answer, with the thinking apart in both names clients read it by."""

    role: Literal["assistant"] = "assistant"
    content: str
    reasoning_content: str = Field(description="R1's thinking (DeepSeek's name for it).")
    reasoning: str = Field(description="The same thinking (vLLM's current name for it).")


class Choice(BaseModel):
    index: int = 0
    message: MessageOut
    finish_reason: str
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None
    param: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError, "description": description}
    for status, description in {
        400: "The request cannot be used (a bad or missing field, an empty conversation).",
        401: "No valid API token.",
        403: "Not allowed: without accounts, only this machine may call /v1.",
        404: "No such model.",
        413: "A message over MAX_MESSAGE_CHARS, a body over MAX_BODY_BYTES, or a prompt over the context.",
        429: "Too many requests: `Retry-After` says when to try again.",
        503: "The engine is not ready yet.",
    }.items()
}
