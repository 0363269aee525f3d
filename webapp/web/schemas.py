"""What the REST API takes and gives: request bodies (strict) and response models, so that `/docs`
and `/openapi.json` describe every request and response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from webapp.db.records import MessageRecord
from webapp.llm.sampling import MAX_THINKING_BUDGET, RECOMMENDED, Sampling

# -- requests ---------------------------------------------------------------------------------


class StrictBody(BaseModel):
    """A request body that refuses unknown fields (a typo is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


class NewConversation(StrictBody):
    title: StrictStr = Field("", max_length=200)


class ConversationChange(StrictBody):
    """What a PATCH changes: the title, whether it is pinned, or both."""

    title: StrictStr | None = Field(None, min_length=1, max_length=200)
    pinned: StrictBool | None = Field(None, description="First in the list (true), or back among the others.")

    @model_validator(mode="after")
    def _something(self) -> ConversationChange:
        if self.title is None and self.pinned is None:
            raise ValueError("Give a title, pinned, or both.")
        return self


class SamplingOptions(StrictBody):
    """How an answer is sampled; what a body leaves out is the model card's."""

    temperature: StrictFloat | StrictInt | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | StrictInt | None = Field(None, gt=0, le=1)
    max_tokens: StrictInt | None = Field(None, ge=1, le=1_000_000)
    math: StrictBool | None = Field(None, description="R1's math prompt; left out: false (or the saved setting).")
    thinking_budget: StrictInt | None = Field(
        None, ge=0, le=MAX_THINKING_BUDGET, description="Tokens the model may think for; 0 or null: no cap."
    )
    saved_settings: StrictBool = Field(
        False,
        description="Fields left out take the owner's saved settings (the chat page's settings panel, "
        "its persona too) instead of the model card's recommendations.",
    )

    def sampling(self, saved: Sampling | None = None) -> Sampling:
        """The message's sampling settings: those it leaves out are `saved`'s, or else the model card's
        (and no max tokens: the engine gives what fits)."""
        base = saved or RECOMMENDED
        return Sampling(
            temperature=float(base.temperature if self.temperature is None else self.temperature),
            top_p=float(base.top_p if self.top_p is None else self.top_p),
            max_tokens=(saved.max_tokens if saved else None) if self.max_tokens is None else self.max_tokens,
            math=base.math if self.math is None else self.math,
            persona=base.persona,
            thinking_budget=base.thinking_budget if self.thinking_budget is None else self.thinking_budget or None,
        )


class NewMessage(SamplingOptions):
    content: StrictStr


class Regenerate(SamplingOptions):
    message_id: StrictInt | None = Field(
        None, description="The answer to give a new version of (or the message it answers); null: the last one shown."
    )


class NewShare(StrictBody):
    expires_in_days: StrictInt | None = Field(None, ge=1, le=365)


class NewToken(StrictBody):
    name: StrictStr = Field("", max_length=100)


class NewUser(StrictBody):
    name: StrictStr = Field(min_length=1, max_length=64)
    password: StrictStr = Field(min_length=1, max_length=1024)
    is_admin: StrictBool = False


class NewPassword(StrictBody):
    password: StrictStr = Field(min_length=1, max_length=1024)


# -- responses --------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    kind: str = Field(description="Stable, machine-readable name of the error.")
    message: str = Field(description="What happened, for a person.")
    hint: str | None = Field(description="What to do about it, when there is something to do.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx the API answers with."""

    error: ErrorDetail


class Created(BaseModel):
    id: str


class ConversationOut(BaseModel):
    id: str
    title: str
    created_at: float
    updated_at: float
    pinned: bool = Field(description="Pinned to the top of the list.")


class VersionOut(BaseModel):
    index: int = Field(description="This message's place among its versions, from 1.")
    count: int = Field(description="How many versions there are (1: none but this).")
    ids: list[int] = Field(description="The versions' message ids, oldest first: choose one to switch to it.")


@dataclass(frozen=True, slots=True)
class BranchMessage(MessageRecord):
    """A message of the branch shown, and where it stands among its versions."""

    version: VersionOut | None = None


class ConversationDetail(ConversationOut):
    messages: list[BranchMessage] = Field(description="The branch shown, as the model sees it.")
    tree: list[MessageRecord] | None = Field(
        None, description="With `?tree=true`: every message, every version, oldest first (`parent_id` links them)."
    )


class SkippedOut(BaseModel):
    index: int = Field(description="Its place in the file, from 1.")
    title: str
    reason: str


class ImportedOut(BaseModel):
    imported: int
    ids: list[str] = Field(description="The new conversations, in the file's order.")
    skipped: list[SkippedOut] = Field(description="Conversations of the file not imported, and why.")


class ShareOut(BaseModel):
    url: str = Field(description="The share page's path, `/s/<token>`.")
    conversation_id: str
    title: str
    created_at: float
    expires_at: float | None


class Me(BaseModel):
    name: str | None = Field(description="None: an anonymous browser (accounts are off).")
    is_admin: bool
    accounts: bool


class SignedIn(BaseModel):
    name: str
    is_admin: bool


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: float
    last_used_at: float | None


class NewTokenOut(BaseModel):
    id: int
    name: str
    token: str = Field(description="The token itself: shown this once, never again.")
    created_at: float


class UserOut(BaseModel):
    name: str
    is_admin: bool
    created_at: float
    managed_by: Literal["config", "ui"]
    disabled: bool


class Restarting(BaseModel):
    status: Literal["restarting"]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    engine: str = Field(description="The engine's state: starting, ready, error, ...")
    error: ErrorDetail | None = Field(
        None, description="Why it is not ready: for everyone in open mode, for the signed-in with accounts."
    )


class LogTail(BaseModel):
    lines: list[str]


# Errors every route of the API may answer with, for `/docs`.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed body (not JSON, not UTF-8).",
        401: "No session or API token.",
        403: "Not allowed (not an admin), or from another site's page.",
        404: "No such thing, or another owner's (the same answer for both).",
        409: "Clashes with what exists (a turn under way, a name taken).",
        413: "Over a size limit.",
        422: "Invalid input, naming the field.",
        429: "Over a rate limit; see Retry-After.",
    }.items()
}
