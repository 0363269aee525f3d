"""`/v1`: an OpenAI-compatible endpoint on the app's port, for clients people already use.

It answers through the chat service's own pieces, so R1's rules hold as in the page: system
text joins the next user turn and earlier reasoning is dropped (`llm.prompt`), sampling is
the model card's unless the client sets it, `max_tokens` is fitted to the context
(`chat.context`), and turns count against the chat rate limits and the day's tokens. Nothing
else is stored: a client sends the whole history each time. The engine's key and port stay private.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, cast

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from webapp.auth.authenticator import identity
from webapp.auth.gate import from_this_machine
from webapp.chat.context import answer_budget, history_target, prompt_token_bound
from webapp.chat.draft import turn_cost
from webapp.chat.service import ChatService
from webapp.errors import AppError, Forbidden, InvalidInput, NotFound
from webapp.llm.client import ChatBackend, StreamEnd, StreamEvent
from webapp.llm.prompt import r1_messages, text_of
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import RECOMMENDED, Sampling
from webapp.web.openai_schemas import ERRORS, ChatCompletion, ChatRequest, Model, ModelList

# The model card's range: below it R1 loops, above it R1 rambles. Values a client sends that
# are valid but outside it are brought to its nearest end, and the `X-Sampling-Clamped` header
# says which. Values that are not valid at all (temperature 3) are refused, as OpenAI does.
TOLERATED_TEMPERATURE = (0.5, 0.7)
CLAMP_HEADER = "X-Sampling-Clamped"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
OWNED_BY = "deepseek-ai"


def caller(accounts: bool) -> Callable[[Request], Awaitable[str]]:
    """Whose turns these are for the rate limits: a signed-in user's (an API token, or a session), or,
    without accounts, this machine's alone (Forbidden from anywhere else)."""

    async def key(request: Request) -> str:  # a coroutine: no worker thread (`webapp.web.deps`)
        asker = identity(request)
        if accounts:
            return asker.owner
        if not from_this_machine(request.client.host if request.client else None, request.headers):
            raise Forbidden(
                "Without accounts, /v1 answers only clients on this machine.",
                hint="Set ADMIN_PASSWORD or USERS_FILE, then use an API token as the key.",
            )
        return "this-machine"

    return key


def sampling_of(body: ChatRequest) -> tuple[Sampling, list[str]]:
    """The request's sampling (the model card's where it says nothing), and what was clamped."""
    temperature = float(RECOMMENDED.temperature if body.temperature is None else body.temperature)
    top_p = float(RECOMMENDED.top_p if body.top_p is None else body.top_p)
    requested = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    budget = body.budget
    # Refuses invalid values.
    sampling = Sampling(temperature=temperature, top_p=top_p, max_tokens=requested, thinking_budget=budget)
    low, high = TOLERATED_TEMPERATURE
    tolerated = min(max(temperature, low), high)
    if tolerated == temperature:
        return sampling, []
    return replace(sampling, temperature=tolerated), [f"temperature={tolerated}"]


def chat_messages(service: ChatService, body: ChatRequest) -> list[dict[str, str]]:
    """The history as plain text messages, each within the message limit; R1's rules are applied later."""
    messages = []
    for message in body.messages:
        try:
            text = text_of(message.content)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        if text.strip():
            service.validate(text)  # over MAX_MESSAGE_CHARS: TooLarge
        messages.append({"role": message.role, "content": text})
    users = [m for m in messages if m["role"] == "user"]
    if not users:
        raise InvalidInput("The messages need at least one user message.")
    service.validate(users[-1]["content"])  # an empty question is refused as in the page
    return messages


async def fitted_max_tokens(client: ChatBackend, messages: list[dict[str, str]], requested: int | None) -> int | None:
    """The max tokens to ask for: the client's, clamped to what the context leaves (ContextTooLong if nothing)."""
    known = client.context_length
    if known is not None:
        bound = prompt_token_bound(r1_messages(messages))
        if bound <= history_target(known, requested) and (requested is None or bound + requested <= known):
            return requested  # surely fits (`ChatService._fit`): no round trip to count it
    cost = await client.acount_tokens(messages)
    if cost is None:  # not a vLLM server: it enforces its own limit
        return requested
    return answer_budget(cost.count, cost.max_model_len, requested)


@dataclass
class Completion:
    """One answer being made: what every chunk and the whole answer repeat."""

    id: str
    created: int
    model: str

    @classmethod
    def new(cls, model: str) -> Completion:
        return cls(f"chatcmpl-{secrets.token_hex(12)}", int(time.time()), model)

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._sse({"choices": [choice]})

    def _sse(self, fields: dict[str, Any]) -> bytes:
        head = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        return b"data: " + orjson.dumps(head | fields) + b"\n\n"

    def usage_chunk(self, end: StreamEnd) -> bytes:
        return self._sse({"choices": [], "usage": usage(end)})


def usage(end: StreamEnd | None) -> dict[str, int]:
    prompt = (end.prompt_tokens if end else None) or 0
    completion = (end.completion_tokens if end else None) or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def generator(turn: AsyncIterator[StreamEvent]) -> AsyncGenerator[StreamEvent, None]:
    """The engine's stream, closable at once when the client goes (every backend's `astream` is a generator)."""
    return cast(AsyncGenerator[StreamEvent, None], turn)


def delta_of(piece: Piece) -> dict[str, str]:
    if piece.kind == "reasoning":
        return {"reasoning_content": piece.text, "reasoning": piece.text}
    return {"content": piece.text}


def error_chunk(error: AppError) -> bytes:
    """An error after the stream began, as OpenAI's SDK reads one (it raises it)."""
    body = {"error": {"message": str(error), "type": "server_error", "code": error.kind, "param": None}}
    return b"data: " + orjson.dumps(body) + b"\n\n"


@dataclass
class Spending:
    """Whose turn it is and what it costs so far: counted once it ends, however it ends."""

    owner: str
    prompt_estimate: int
    pieces: int = 0

    async def settle(self, service: ChatService, end: StreamEnd | None) -> None:
        # Shielded: a client gone mid-answer still has what the engine spent counted.
        await asyncio.shield(service.quotas.spend(self.owner, turn_cost(end, self.prompt_estimate, self.pieces)))


async def streamed(
    service: ChatService,
    completion: Completion,
    turn: AsyncIterator[StreamEvent],
    include_usage: bool,
    spending: Spending,
) -> AsyncIterator[bytes]:
    """The answer as `chat.completion.chunk`s, ending `data: [DONE]`."""
    end: StreamEnd | None = None
    service.metrics.active.inc()
    try:
        yield completion.chunk({"role": "assistant", "content": ""})
        async with aclosing(generator(turn)) as events:
            async for event in events:
                if isinstance(event, StreamEnd):
                    end = event
                    continue
                service.metrics.tokens.inc(event.tokens)
                spending.pieces += event.tokens
                yield completion.chunk(delta_of(event))
        yield completion.chunk({}, (end.finish_reason if end else None) or "stop")
        if include_usage:
            yield completion.usage_chunk(end or StreamEnd(None))
    except AppError as exc:  # the engine failed midway: said in the stream, which has its status already
        service.metrics.errors.labels(exc.kind).inc()
        yield error_chunk(exc)
    finally:
        service.metrics.active.dec()
        await spending.settle(service, end)
    yield b"data: [DONE]\n\n"


async def whole(
    service: ChatService, completion: Completion, turn: AsyncIterator[StreamEvent], spending: Spending
) -> ChatCompletion:
    parts: dict[str, list[str]] = {"reasoning": [], "content": []}
    end: StreamEnd | None = None
    service.metrics.active.inc()
    try:
        async with aclosing(generator(turn)) as events:
            async for event in events:
                if isinstance(event, StreamEnd):
                    end = event
                else:
                    parts[event.kind].append(event.text)
                    service.metrics.tokens.inc(event.tokens)
                    spending.pieces += event.tokens
    except AppError as exc:
        service.metrics.errors.labels(exc.kind).inc()
        raise
    finally:
        service.metrics.active.dec()
        await spending.settle(service, end)
    thinking = "".join(parts["reasoning"])
    message = {"content": "".join(parts["content"]), "reasoning_content": thinking, "reasoning": thinking}
    return ChatCompletion.model_validate(
        {
            "id": completion.id,
            "created": completion.created,
            "model": completion.model,
            "choices": [{"message": message, "finish_reason": (end.finish_reason if end else None) or "stop"}],
            "usage": usage(end),
        }
    )


class UnknownModel(NotFound):
    """A model name the engine does not serve (OpenAI's `model_not_found`)."""

    kind = "model_not_found"


def served_model(name: str, asked: str) -> None:
    if asked != name:
        raise UnknownModel(f"The model {asked!r} is not served here; the one model is {name!r}.")


def openai_router(service: ChatService, *, accounts: bool, started: float) -> APIRouter:
    """`GET /v1/models`, `GET /v1/models/{model}` and `POST /v1/chat/completions`."""
    router = APIRouter(prefix="/v1", tags=["openai"], responses=ERRORS)
    asker = Depends(caller(accounts))

    def model_entry(name: str) -> Model:
        return Model(id=name, created=int(started), owned_by=OWNED_BY)

    @router.get("/models", response_model=ModelList)
    async def models(_who: str = asker) -> ModelList:
        """The one model the engine serves, by the name `/v1/chat/completions` takes."""
        return ModelList(data=[model_entry(await service.client.amodel_name())])

    @router.get("/models/{model:path}", response_model=Model)
    async def model(model: str, _who: str = asker) -> Model:
        name = await service.client.amodel_name()
        served_model(name, model)
        return model_entry(name)

    @router.post(
        "/chat/completions",
        response_model=ChatCompletion,
        responses={200: {"content": {"text/event-stream": {}}, "description": STREAM_DOC}},
    )
    async def chat_completions(request: Request, body: ChatRequest, who: str = asker) -> Response:
        """A chat completion; with `stream`, `chat.completion.chunk`s as Server-Sent Events ending `[DONE]`."""
        # Everything that can be refused is refused before the answer starts, with its status.
        sampling, clamped = sampling_of(body)
        messages = chat_messages(service, body)
        service.engine.require_ready()
        name = await service.client.amodel_name()
        served_model(name, body.model)
        max_tokens = await fitted_max_tokens(service.client, messages, sampling.max_tokens)
        await service.quotas.check(who)  # past the day's quota: 429 `insufficient_quota`
        service.admit(who, request.client.host if request.client else None)
        sampling = replace(sampling, max_tokens=max_tokens)
        completion = Completion.new(name)
        headers = {CLAMP_HEADER: ", ".join(clamped)} if clamped else {}
        service.metrics.requests.inc()
        turn = service.client.astream(messages, sampling)
        spending = Spending(who, prompt_token_bound(r1_messages(messages)))
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            chunks = streamed(service, completion, turn, include_usage, spending)
            return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS | headers)
        answer = await whole(service, completion, turn, spending)
        return JSONResponse(answer.model_dump(), headers=headers)

    return router


STREAM_DOC = (
    "With `stream: true`: Server-Sent Events, each `data:` line a `chat.completion.chunk` whose delta holds "
    "`content`, or the thinking as `reasoning_content` and `reasoning`; the last chunk has the "
    "`finish_reason` (then one with `usage`, if `stream_options.include_usage`), and `data: [DONE]` ends it."
)
