"""The model client: the source article's `LLMClient`, done properly.

It follows R1's rules (see `prompt`), discovers the served model name when none is
given, yields thinking and answer apart (`stream`), and raises the app's own errors
(`failures`) instead of printing them and returning "请求失败". It talks to the engine
with the `openai` client: the app uses the asynchronous half (`openai.AsyncOpenAI`, on
the aiohttp `transport`); scripts may use the synchronous one (`openai.OpenAI`:
`simple_chat`, `stream_chat`, `complete`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
import openai

from webapp.errors import AppError, ContextTooLong, ModelNotFound
from webapp.llm.failures import engine_error
from webapp.llm.pacer import Pacer
from webapp.llm.prompt import r1_messages
from webapp.llm.reasoning import OPEN_TAG as THINK_OPEN
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import DEFAULT_MAX_TOKENS, RECOMMENDED, RECOMMENDED_TEMPERATURE, RECOMMENDED_TOP_P, Sampling
from webapp.llm.stream import StreamEnd, StreamEvent, StreamParser
from webapp.llm.transport import PER_REQUEST, EngineTransport, async_openai, reading_of, sync_openai, vllm_http

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "RECOMMENDED_TEMPERATURE",
    "RECOMMENDED_TOP_P",
    "ChatBackend",
    "ModelClient",
    "Reply",
    "Sampling",
    "StreamEnd",
    "StreamEvent",
    "TokenCount",
]


@dataclass(frozen=True, slots=True)
class TokenCount:
    """What a prompt costs, measured by the engine's own tokenizer and template."""

    count: int
    max_model_len: int


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer, thinking apart."""

    reasoning: str
    answer: str
    finish_reason: str | None


class ChatBackend(Protocol):
    """What the chat service needs from the engine: one ModelClient, or an EndpointPool of several."""

    @property
    def base_url(self) -> str: ...

    @property
    def context_length(self) -> int | None:
        """The engine's max_model_len once a token count has told it, else None."""
        ...

    async def amodel_name(self) -> str: ...

    async def acount_tokens(
        self, messages: Iterable[Mapping[str, object]], *, math: bool = False, prefix: str | None = None
    ) -> TokenCount | None: ...

    def astream(
        self,
        messages: Iterable[Mapping[str, object]],
        sampling: Sampling = ...,
        *,
        prefix: str | None = None,
        answer_only: bool = False,
        pace: float | None = ...,
    ) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...


PROMPT_THOUGHT_TOKENS = 1  # the `\n` after the `<think>` that opens R1's thought in the prompt


def chat_body(
    messages: Iterable[Mapping[str, object]],
    sampling: Sampling,
    *,
    model: str,
    prefix: str | None = None,
) -> dict[str, Any]:
    """The request for a streamed chat completion, by R1's rules (the messages as given: `persona` is the caller's)."""
    chat = r1_messages(messages, math=sampling.math)
    body: dict[str, Any] = {
        "model": model,
        "messages": chat,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if sampling.max_tokens is not None:
        body["max_tokens"] = sampling.max_tokens
    if sampling.thinking_budget is not None and prefix in (None, f"{THINK_OPEN}\n"):
        # vLLM counts the thought from the prompt's last `<think>`: R1's prompt ends `<think>\n`, one
        # token of it. A continued answer is not capped: its prefix's thought would count too.
        body["thinking_token_budget"] = sampling.thinking_budget + PROMPT_THOUGHT_TOKENS
    if prefix is not None:
        # The answer goes on from `prefix` (vLLM's continue_final_message), which the
        # template keeps verbatim while it is still thinking, hence no stripping here.
        chat.append({"role": "assistant", "content": prefix})
        body |= {"continue_final_message": True, "add_generation_prompt": False}
    return body


# The streamed chat is the SDK's generic POST with `cast_to=httpx2.Response, stream=True`: the SDK
# hands back the response with its body unread, for the one parser (what `with_streaming_response`
# does, without a raw-response header on the wire). Its typed `create` would check the request and
# build a typed chunk per token, costing more than the app spends on everything else.
_STREAMED: openai.RequestOptions = {"headers": PER_REQUEST}


class ModelClient:
    """Talks to an OpenAI-compatible vLLM server serving an R1 model.

    Its streams rest as `pacer` says (by default, longer as they grow many: see `Pacer`)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 600.0,
        pacer: Pacer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or "EMPTY"
        self._model = model
        self._timeout = timeout
        self.pacer = pacer if pacer is not None else Pacer()
        self._transport = EngineTransport()  # the async clients' connections, to pause a resting stream's
        self._async: openai.AsyncOpenAI | None = None
        self._sync: openai.OpenAI | None = None
        self._http: httpx2.AsyncClient | None = None
        self._template_opens_thinking: bool | None = None
        self._missing_routes: set[str] = set()  # vLLM's own routes this server answered 404 to
        # The engine's max_model_len, as its last token count said; None until then, and again
        # after the engine refused a prompt as too long (its settings may have changed).
        self.context_length: int | None = None

    def _failure(self, exc: Exception) -> AppError:
        error = engine_error(exc, base_url=self.base_url, model=self._model)
        if isinstance(error, ContextTooLong):
            self.context_length = None  # count the next prompts again
        return error

    def _async_client(self) -> openai.AsyncOpenAI:
        if self._async is None:
            self._async = async_openai(
                self.base_url, api_key=self._api_key, timeout=self._timeout, transport=self._transport
            )
        return self._async

    def _sync_client(self) -> openai.OpenAI:
        if self._sync is None:
            self._sync = sync_openai(self.base_url, api_key=self._api_key, timeout=self._timeout)
        return self._sync

    def _http_client(self) -> httpx2.AsyncClient:
        if self._http is None:
            self._http = vllm_http(api_key=self._api_key, timeout=self._timeout, transport=self._transport)
        return self._http

    # -- model discovery ------------------------------------------------------

    def model_name(self) -> str:
        """The served model name: the configured one, or the first the server lists."""
        if self._model is None:
            try:
                models = self._sync_client().models.list(extra_headers=PER_REQUEST).data
            except Exception as exc:
                raise self._failure(exc) from exc
            self._model = self._first_model([model.id for model in models])
        return self._model

    async def amodel_name(self) -> str:
        """`model_name`, without blocking the event loop."""
        if self._model is None:
            try:
                page = await self._async_client().models.list(extra_headers=PER_REQUEST)
            except Exception as exc:
                raise self._failure(exc) from exc
            self._model = self._first_model([model.id for model in page.data])
        return self._model

    def _first_model(self, ids: list[str]) -> str:
        if not ids:
            raise ModelNotFound(f"The engine at {self.base_url} serves no model.")
        return ids[0]

    # -- synchronous interface (scripts, the article's examples) -----------------

    def stream_chat(
        self,
        messages: Iterable[Mapping[str, object]],
        *,
        temperature: float = RECOMMENDED_TEMPERATURE,
        top_p: float = RECOMMENDED_TOP_P,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        math: bool = False,
    ) -> Iterator[StreamEvent]:
        """Stream thinking and answer pieces, then a `StreamEnd` (out-of-range values: InvalidInput)."""
        sampling = Sampling(temperature=temperature, top_p=top_p, max_tokens=max_tokens, math=math)
        body = chat_body(messages, sampling, model=self.model_name())
        parser = StreamParser()
        try:
            response = self._sync_client().post(
                "/chat/completions", cast_to=httpx2.Response, body=body, options=_STREAMED, stream=True
            )
            try:
                for data in response.iter_bytes():
                    yield from parser.feed(data)
            finally:
                response.close()
            yield from parser.close()
        except Exception as exc:
            raise self._failure(exc) from exc
        yield parser.end

    def complete(self, messages: Iterable[Mapping[str, object]], **sampling: Any) -> Reply:
        """A whole answer with its thinking apart."""
        pieces: dict[str, list[str]] = {"reasoning": [], "content": []}
        end = StreamEnd(None)
        for event in self.stream_chat(messages, **sampling):
            if isinstance(event, Piece):
                pieces[event.kind].append(event.text)
            else:
                end = event
        return Reply("".join(pieces["reasoning"]), "".join(pieces["content"]), end.finish_reason)

    def simple_chat(self, user_message: str, system_message: str | None = None, **sampling: Any) -> str:
        """The answer to one question (a system message is folded into the user turn)."""
        messages: list[dict[str, str]] = []
        if system_message:
            messages.append({"role": "system", "content": system_message})
        messages.append({"role": "user", "content": user_message})
        return self.complete(messages, **sampling).answer

    # -- asynchronous interface (the app) -------------------------------------

    async def astream(
        self,
        messages: Iterable[Mapping[str, object]],
        sampling: Sampling = RECOMMENDED,
        *,
        prefix: str | None = None,
        answer_only: bool = False,
        pace: float | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Stream thinking and answer pieces, then a `StreamEnd`, without blocking the loop.

        With `prefix` the model goes on from that text; `answer_only` says the prefix already
        left its thinking, so all that comes is answer. The first piece comes as soon as it
        arrives; after each, the stream rests `pace` seconds (None: as the pacer says; 0: not
        at all), its connection unread, and what came meanwhile comes as one piece per kind
        (`Piece.tokens` says how many deltas it holds).
        """
        parser = StreamParser(answer_only=answer_only)
        try:
            prefix = prefix if prefix is not None else await self.athink_prefix()
            body = chat_body(messages, sampling, model=await self.amodel_name(), prefix=prefix)
            response = await self._async_client().post(
                "/chat/completions", cast_to=httpx2.Response, body=body, options=_STREAMED, stream=True
            )
            try:
                connection = reading_of(response)
                with self.pacer.reading():
                    async for data in response.aiter_bytes():
                        pieces = parser.feed(data)
                        for piece in pieces:
                            yield piece
                        if pieces:
                            await self.pacer.after_read(connection, size=len(data), finished=parser.finished, pace=pace)
            finally:
                await response.aclose()
            for piece in parser.close():
                yield piece
        except AppError:
            raise  # already the app's (from the model name or the think prefix)
        except Exception as exc:
            raise self._failure(exc) from exc
        yield parser.end

    # -- vLLM's own routes ----------------------------------------------------

    async def aprobe(self, route: str, *, seconds: float) -> httpx2.Response:
        """GET one of vLLM's own routes beside `/v1` (`/health`, `/metrics`), waiting at most `seconds`
        for each step. What fails is raised as httpx2 said it, untranslated and unlogged: a poll's to
        judge (`endpoints`)."""
        return await self._http_client().get(f"{self.base_url.removesuffix('/v1')}{route}", timeout=seconds)

    async def _vllm_post(self, route: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST to one of vLLM's own routes beside `/v1`; None where the server has no such route."""
        if route in self._missing_routes:
            return None
        root = self.base_url.removesuffix("/v1")
        try:
            response = await self._http_client().post(f"{root}{route}", json=body)
        except Exception as exc:
            raise self._failure(exc) from exc
        if response.status_code == 404:
            self._missing_routes.add(route)  # not a vLLM server: no need to ask at every turn
        try:
            data = response.json() if response.status_code == 200 else None
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def athink_prefix(self) -> str | None:
        """`<think>\\n` when the engine's chat template does not open the thinking block itself.

        Current R1 templates end their generation prompt with `<think>\\n`; older ones
        stop at `<｜Assistant｜>`, and then the model sometimes skips thinking. The app
        then starts the answer with the tag itself (never twice).
        """
        if self._template_opens_thinking is None:
            model = await self.amodel_name()
            probe = {"model": model, "messages": [{"role": "user", "content": "?"}], "add_generation_prompt": True}
            tokens = await self._vllm_post("/tokenize", probe)
            tail = (
                await self._vllm_post("/detokenize", {"model": model, "tokens": tokens["tokens"][-4:]})
                if tokens
                else None
            )
            # Unknown (not a vLLM server): assume the template is right rather than guess.
            self._template_opens_thinking = tail is None or str(tail.get("prompt", "")).rstrip(" ").endswith(
                (THINK_OPEN, f"{THINK_OPEN}\n")
            )
        return None if self._template_opens_thinking else f"{THINK_OPEN}\n"

    async def acount_tokens(
        self, messages: Iterable[Mapping[str, object]], *, math: bool = False, prefix: str | None = None
    ) -> TokenCount | None:
        """The prompt's exact token count from vLLM's `/tokenize`; None where it has none."""
        chat = r1_messages(messages, math=math)
        body: dict[str, Any] = {"model": await self.amodel_name(), "messages": chat, "add_generation_prompt": True}
        prefix = prefix if prefix is not None else await self.athink_prefix()
        if prefix is not None:
            chat.append({"role": "assistant", "content": prefix})
            body |= {"continue_final_message": True, "add_generation_prompt": False}
        data = await self._vllm_post("/tokenize", body)
        try:
            count = TokenCount(count=int(data["count"]), max_model_len=int(data["max_model_len"])) if data else None
        except (KeyError, TypeError, ValueError):
            return None  # not a vLLM server: the engine will enforce its own limit
        if count is not None:
            self.context_length = count.max_model_len
        return count

    async def aclose(self) -> None:
        """Release the HTTP connections."""
        if self._async is not None:
            await self._async.close()
        if self._http is not None:
            await self._http.aclose()
        await self._transport.aclose()
        if self._sync is not None:
            self._sync.close()
        self._async = self._sync = self._http = None  # made again if used again
