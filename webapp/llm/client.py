"""The model client: the source article's `LLMClient`, done properly.

It follows R1's rules (see `prompt`), discovers the served model name when none
is given, yields thinking and answer apart, and raises the app's own errors
instead of printing them and returning "请求失败".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

import aiohttp
import httpx2
import openai
import orjson
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from webapp.errors import (
    AppError,
    ContextTooLong,
    EngineError,
    EngineNotReady,
    EngineTimeout,
    EngineUnreachable,
    ModelNotFound,
)
from webapp.llm.prompt import r1_messages
from webapp.llm.reasoning import OPEN_TAG as THINK_OPEN
from webapp.llm.reasoning import Piece, ReasoningSplitter, split_completed
from webapp.llm.transport import CHUNK, EngineTransport, reading_of, rest

log = logging.getLogger(__name__)

RECOMMENDED_TEMPERATURE = 0.6
RECOMMENDED_TOP_P = 0.95
# None: as many as fit in the context, so R1's long thinking is not cut at an arbitrary 2048.
DEFAULT_MAX_TOKENS: int | None = None

# Seconds a stream rests after each piece, gathering what comes meanwhile (see `astream`):
# the rate at which the page repaints while streams are few...
STREAM_PACE = 0.05
# ...and at most, once they are many: every piece costs the process a wake-up, a parse and a
# write whatever its size, and past PIECES_PER_SECOND (of all one client's streams together: one
# engine endpoint's) the rests grow instead, up to ten pieces a second. 64 streams rest 0.1 s:
# 16 % less CPU per token than at 0.05.
MOST_STREAM_PACE = 0.1
PIECES_PER_SECOND = 640

# A read of a stream as full as the transport hands over says more is waiting already:
# the stream does not rest then.
FULL_READ = CHUNK

# The openai client tells OpenAI's API about this machine in every request (OS, CPU, Python
# and SDK versions, retry count, timeout). An engine has no use for them: they are left out,
# which also spares the client ~0.1 ms of header handling per streamed turn.
PLATFORM_HEADERS = (
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
)
# (`default_headers` is typed as strings, but the SDK drops an `Omit` there as in a request's headers.)
QUIET = cast(dict[str, str], {name: openai.Omit() for name in PLATFORM_HEADERS})
PER_REQUEST_QUIET: dict[str, str | openai.Omit] = {
    "X-Stainless-Retry-Count": openai.Omit(),
    "X-Stainless-Read-Timeout": openai.Omit(),
}

# Asks the openai client for the response unread, to be streamed (what `with_streaming_response` sends).
STREAM_RAW: dict[str, str | openai.Omit] = {"X-Stainless-Raw-Response": "stream", **PER_REQUEST_QUIET}

_CONTEXT_LIMIT = re.compile(r"maximum context length is (\d+)")


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a stream: why it ended and what it cost."""

    finish_reason: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


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


StreamEvent = Piece | StreamEnd


def translate_error(exc: Exception, *, base_url: str, model: str | None = None) -> AppError:
    """The one place where `openai` exceptions become the app's errors."""
    if isinstance(exc, AppError):
        return exc
    refused = _refused_or_dropped(exc)
    if not refused and isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return EngineTimeout(
            f"The engine at {base_url} did not answer in time.", hint="Try a shorter question or a smaller max tokens."
        )
    if refused or isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return EngineUnreachable(
            f"Nothing answers at {base_url} (connection refused or dropped).",
            hint="Is the engine running? Check its log and the status panel.",
        )
    if isinstance(exc, openai.APIStatusError):
        message = _server_message(exc)
        if exc.status_code == 400 and (limit := _CONTEXT_LIMIT.search(message)):
            return ContextTooLong(
                f"The conversation is longer than the model's context of {limit.group(1)} tokens.",
                hint="Start a new conversation, shorten the message, or lower max tokens.",
            )
        if exc.status_code == 404:
            return ModelNotFound(
                f"The engine does not serve the model {model!r}: {message}",
                hint="Set SERVED_MODEL_NAME to a name the engine serves, or leave it empty.",
            )
        if exc.status_code == 401:
            return EngineError("The engine refused the API key.", hint="Set VLLM_API_KEY to the server's key.")
        if exc.status_code == 503:
            return EngineNotReady(f"The engine is not ready: {message}", hint="Wait for it to finish loading.")
        return EngineError(f"The engine answered {exc.status_code}: {message}")
    return EngineError(f"The engine stream failed: {type(exc).__name__}: {exc}")


def _refused_or_dropped(exc: BaseException) -> bool:
    """Whether a connection was refused or dropped, whatever the layers above called it.

    What the layers above make of it depends on the transport (the SDK's own aiohttp transport
    calls a refused connection a connect *timeout*, and the SDK then an APITimeoutError): the
    original exception down the chain tells.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.ClientConnectorError | aiohttp.ServerDisconnectedError | ConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return exc.message


def _delta_text(chunk: ChatCompletionChunk) -> tuple[str | None, str | None]:
    if not chunk.choices:
        return None, None
    delta = chunk.choices[0].delta
    extra = delta.model_extra or {}
    # Current vLLM sends `reasoning`; releases before 2026 sent `reasoning_content`.
    reasoning = extra.get("reasoning") or extra.get("reasoning_content")
    return (str(reasoning) if reasoning else None), delta.content


def _message_text(completion: ChatCompletion) -> tuple[str | None, str | None]:
    message = completion.choices[0].message
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning") or extra.get("reasoning_content")
    return (str(reasoning) if reasoning else None), message.content


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
        *,
        temperature: float = ...,
        top_p: float = ...,
        max_tokens: int | None = ...,
        math: bool = False,
        prefix: str | None = None,
        answer_only: bool = False,
        pace: float | None = ...,
    ) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...


def stream_pace(streams: int) -> float:
    """How long each of `streams` streams read at once rests between its pieces."""
    return min(MOST_STREAM_PACE, max(STREAM_PACE, streams / PIECES_PER_SECOND))


class ModelClient:
    """Talks to an OpenAI-compatible vLLM server serving an R1 model."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 600.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or "EMPTY"
        self._model = model
        self._timeout = timeout
        self._sync: openai.OpenAI | None = None
        self._async: openai.AsyncOpenAI | None = None
        self._http: httpx2.AsyncClient | None = None
        self._transport = EngineTransport()  # both async clients' connections, to pause a resting stream's
        self._template_opens_thinking: bool | None = None
        self._missing_routes: set[str] = set()  # vLLM's own routes this server answered 404 to
        # The engine's max_model_len, as its last token count said; None until then, and again
        # after the engine refused a prompt as too long (its settings may have changed).
        self.context_length: int | None = None
        self.streams = 0  # answers being streamed now (their rests lengthen as they grow many)

    # -- plumbing -------------------------------------------------------------

    def _sync_client(self) -> openai.OpenAI:
        if self._sync is None:
            # No retries: a refused connection must surface at once, not after backoff.
            self._sync = openai.OpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                timeout=self._timeout,
                max_retries=0,
                default_headers=QUIET,
            )
        return self._sync

    def _async_client(self) -> openai.AsyncOpenAI:
        if self._async is None:
            self._async = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                timeout=self._timeout,
                max_retries=0,
                default_headers=QUIET,
                http_client=openai.DefaultAsyncHttpxClient(transport=self._transport, timeout=self._timeout),
            )
        return self._async

    def _http_client(self) -> httpx2.AsyncClient:
        # For vLLM's own routes beside the OpenAI API (`/tokenize`): the same connection pool.
        if self._http is None:
            self._http = openai.DefaultAsyncHttpxClient(
                transport=self._transport,
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._api_key}"},
            )
        return self._http

    def _error(self, exc: Exception) -> AppError:
        error = translate_error(exc, base_url=self.base_url, model=self._model)
        if isinstance(error, ContextTooLong):
            self.context_length = None  # count the next prompts again
        elif error is not exc:
            # Users see the plain translation; the operator needs what the library said.
            cause = exc.__cause__ or exc
            log.warning("engine request to %s failed: %s (%s: %s)", self.base_url, error, type(cause).__name__, cause)
        return error

    def _request(
        self,
        messages: Iterable[Mapping[str, object]],
        *,
        math: bool,
        temperature: float,
        top_p: float,
        max_tokens: int | None,
        stream: bool,
        prefix: str | None = None,
    ) -> dict[str, Any]:
        chat = r1_messages(messages, math=math)
        request: dict[str, Any] = {
            "messages": chat,
            "temperature": temperature,
            "top_p": top_p,
            "stream": stream,
        }
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if stream:
            request["stream_options"] = {"include_usage": True}
        if prefix is not None:
            # The answer goes on from `prefix` (vLLM's continue_final_message), which the
            # template keeps verbatim while it is still thinking, hence no stripping here.
            chat.append({"role": "assistant", "content": prefix})
            request["extra_body"] = {"continue_final_message": True, "add_generation_prompt": False}
        return request

    # -- model discovery ------------------------------------------------------

    def model_name(self) -> str:
        """The served model name: the configured one, or the first the server lists."""
        if self._model is None:
            try:
                models = self._sync_client().models.list(extra_headers=PER_REQUEST_QUIET).data
            except Exception as exc:
                raise self._error(exc) from exc
            self._model = self._first_model([m.id for m in models])
        return self._model

    async def amodel_name(self) -> str:
        """`model_name`, without blocking the event loop."""
        if self._model is None:
            try:
                page = await self._async_client().models.list(extra_headers=PER_REQUEST_QUIET)
            except Exception as exc:
                raise self._error(exc) from exc
            self._model = self._first_model([m.id for m in page.data])
        return self._model

    def _first_model(self, ids: list[str]) -> str:
        if not ids:
            raise ModelNotFound(f"The engine at {self.base_url} serves no model.")
        return ids[0]

    # -- synchronous interface (scripts, the article's examples) -----------------

    def chat_completion(
        self,
        messages: Iterable[Mapping[str, object]],
        stream: bool = False,
        temperature: float = RECOMMENDED_TEMPERATURE,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        top_p: float = RECOMMENDED_TOP_P,
        math: bool = False,
    ) -> ChatCompletion | Iterator[ChatCompletionChunk]:
        """One chat completion, raw from the server (a stream of chunks when `stream`)."""
        request = self._request(
            messages, math=math, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stream=stream
        )
        try:
            result = self._sync_client().chat.completions.create(
                model=self.model_name(), extra_headers=PER_REQUEST_QUIET, **request
            )
        except AppError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        if stream:
            return self._guard(result)
        assert isinstance(result, ChatCompletion)
        return result

    def _guard(self, chunks: Any) -> Iterator[ChatCompletionChunk]:
        try:
            yield from chunks
        except Exception as exc:
            raise self._error(exc) from exc

    def stream_chat(self, messages: Iterable[Mapping[str, object]], **sampling: Any) -> Iterator[StreamEvent]:
        """Stream thinking and answer pieces, then a `StreamEnd`."""
        chunks = self.chat_completion(messages, stream=True, **sampling)
        assert not isinstance(chunks, ChatCompletion)
        splitter = ReasoningSplitter()
        end = StreamEnd(None)
        for chunk in chunks:
            yield from splitter.feed(*_delta_text(chunk))
            end = _end_of(chunk, end)
        yield from splitter.finish()
        yield end

    def complete(self, messages: Iterable[Mapping[str, object]], **sampling: Any) -> Reply:
        """A whole answer with its thinking apart."""
        completion = self.chat_completion(messages, stream=False, **sampling)
        assert isinstance(completion, ChatCompletion)
        reasoning, answer = split_completed(*_message_text(completion))
        return Reply(reasoning=reasoning, answer=answer, finish_reason=completion.choices[0].finish_reason)

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
        *,
        temperature: float = RECOMMENDED_TEMPERATURE,
        top_p: float = RECOMMENDED_TOP_P,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        math: bool = False,
        prefix: str | None = None,
        answer_only: bool = False,
        pace: float | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Stream thinking and answer pieces, then a `StreamEnd`, without blocking the loop.

        With `prefix` the model goes on from that text; `answer_only` says the prefix
        already left its thinking, so all that comes is answer (vLLM's parser, seeing no
        `</think>` in the new text, would call it reasoning).

        The first piece comes as soon as it arrives; after each piece the stream rests
        `pace` seconds and then takes everything that came meanwhile as one piece per kind
        (`Piece.tokens` says how many deltas it holds). Nobody sees a difference (pages
        repaint at that rate anyway), and the work per token shrinks several times over:
        one wake-up, one parse loop and one event per pace instead of per token. A stream
        faster than one full read per pace is read without rests. While it rests the
        connection is not read at all (`transport.rest`), so the tokens wait in the kernel and come
        in one read, not one wake-up of the HTTP client each. With no `pace` given, it is
        `stream_pace` of the streams this client is reading at each rest.
        """
        splitter = ReasoningSplitter()
        end = StreamEnd(None)
        try:
            prefix = prefix if prefix is not None else await self.athink_prefix()
            request = self._request(
                messages, math=math, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stream=True,
                prefix=prefix,
            )  # fmt: skip
            model = await self.amodel_name()
            extra = request.pop("extra_body", {})
            body = {"model": model, **request, **extra}
            # The SDK's generic POST, answered with the raw response: its typed `create` spends
            # more per turn checking the request than the app spends on everything else, and its
            # typed chunks ~20x more per token than splitting the bytes and reading the JSON.
            response = await self._async_client().post(
                "/chat/completions", cast_to=httpx2.Response, body=body, options={"headers": STREAM_RAW}
            )
            self.streams += 1
            try:
                events, connection = ServerSentData(), reading_of(response)
                async for data in response.aiter_bytes():
                    deltas = []
                    for chunk in events.feed(data):
                        if chunk.get("error"):
                            raise EngineError(f"The engine stream failed: {chunk['error']}")
                        deltas.append(_raw_delta_text(chunk))
                        end = _raw_end_of(chunk, end)
                    pieces = splitter.feed_all(deltas)
                    for piece in pieces:
                        yield Piece("content", piece.text, piece.tokens) if answer_only else piece
                    # No rest once the answer has finished: only the usage and [DONE] are left.
                    if pieces and (pace is None or pace > 0) and len(data) < FULL_READ and end.finish_reason is None:
                        await rest(connection, stream_pace(self.streams) if pace is None else pace)
            finally:
                self.streams -= 1
                await response.aclose()
        except AppError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        for piece in splitter.finish():
            yield Piece("content", piece.text, piece.tokens) if answer_only else piece
        if end.finish_reason is None:
            # A stream that stops without a finish reason was cut, not finished.
            raise EngineError("The engine closed the stream before the answer was finished.")
        yield end

    async def _vllm_post(self, route: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST to one of vLLM's own routes beside `/v1`; None where the server has no such route."""
        if route in self._missing_routes:
            return None
        root = self.base_url.removesuffix("/v1")
        try:
            response = await self._http_client().post(f"{root}{route}", json=body)
        except Exception as exc:
            raise self._error(exc) from exc
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
        if self._sync is not None:
            self._sync.close()


def _end_of(chunk: ChatCompletionChunk, previous: StreamEnd) -> StreamEnd:
    finish = previous.finish_reason
    if chunk.choices and chunk.choices[0].finish_reason:
        finish = chunk.choices[0].finish_reason
    if chunk.usage is not None:
        return StreamEnd(finish, chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
    return StreamEnd(finish, previous.prompt_tokens, previous.completion_tokens)


def _raw_delta_text(chunk: dict[str, Any]) -> tuple[str | None, str | None]:
    choices = chunk.get("choices") or []
    if not choices:
        return None, None
    delta = choices[0].get("delta") or {}
    reasoning = delta.get("reasoning") or delta.get("reasoning_content")
    return (str(reasoning) if reasoning else None), delta.get("content")


def _raw_end_of(chunk: dict[str, Any], previous: StreamEnd) -> StreamEnd:
    choices = chunk.get("choices")
    finish = (choices[0].get("finish_reason") if choices else None) or previous.finish_reason
    usage = chunk.get("usage")
    if usage:
        return StreamEnd(finish, usage.get("prompt_tokens"), usage.get("completion_tokens"))
    if finish is previous.finish_reason:
        return previous  # every token but the last: nothing ended yet
    return StreamEnd(finish, previous.prompt_tokens, previous.completion_tokens)


class ServerSentData:
    """The JSON objects of a Server-Sent Events stream's `data: {...}` lines, from bytes as they come."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()  # an unfinished line waits for the rest of it
        # Other lines are blank separators, comments, or the closing `data: [DONE]`.
        objects = [line[6:] for line in lines if line.startswith(b"data: {")]
        if len(objects) > 1:
            # A read's objects read as one JSON array: one call instead of one per token.
            try:
                return orjson.loads(b"[" + b",".join(objects) + b"]")  # type: ignore[no-any-return]
            except orjson.JSONDecodeError:
                pass  # one of them is not orjson's: each on its own, as below
        return [_json(item) for item in objects]


def _json(data: bytes) -> Any:
    # Every token comes as a chunk of JSON: orjson reads it at a third of json.loads' cost. What
    # orjson refuses and json takes (an escaped lone surrogate) is read by json, the rest fails there.
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
