"""What went wrong talking to the engine, as the app's errors: the one translation.

Whatever fails — the connection or the engine's answer (the openai client's errors:
APIConnectionError, APITimeoutError, APIStatusError with the engine's body), a streamed
body's read (httpx2's errors, the SDK's HTTP library; the aiohttp transport raises those
too) or the stream itself (`StreamFailed`) — becomes here one of `webapp.errors`'
AppErrors, with a message and a hint for a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import httpx2
import openai

from webapp.errors import (
    AppError,
    ContextTooLong,
    EngineError,
    EngineNotReady,
    EngineTimeout,
    EngineUnreachable,
    ModelNotFound,
)
from webapp.llm.stream import StreamFailed

log = logging.getLogger(__name__)

_CONTEXT_LIMIT = re.compile(r"maximum context length is (\d+)")
# vLLM's refusal of `thinking_token_budget` when it runs without a reasoning config.
_NO_REASONING_CONFIG = "reasoning_config is not configured"


def engine_error(exc: BaseException, *, base_url: str, model: str | None = None) -> AppError:
    """The app's error for `exc`, raised talking to the engine at `base_url`.

    Users see the plain translation; the operator's log gets what the libraries said (the
    SDK's error and what it was raised from), but for a prompt too long for the context (the
    user's to fix)."""
    if isinstance(exc, AppError):
        return exc
    error = _translated(exc, base_url, model)
    if not isinstance(error, ContextTooLong):
        log.warning("engine request to %s failed: %s (%s)", base_url, error, _said(exc))
    return error


def _said(exc: BaseException) -> str:
    """`exc` and the exceptions it was raised from, outermost first: `APIConnectionError: Connection
    error. <- ConnectError: ... <- ClientConnectorError: Cannot connect to host ...`."""
    said, seen = [], set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        said.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__
    return " <- ".join(said)


def _translated(exc: BaseException, base_url: str, model: str | None) -> AppError:
    if isinstance(exc, openai.APIStatusError):
        return _refusal(exc.status_code, _server_message(exc), model)
    if isinstance(exc, StreamFailed):
        # vLLM refuses a streamed request's fields in the stream itself, not with a status.
        return _no_thinking_budget() if _NO_REASONING_CONFIG in str(exc) else EngineError(str(exc))
    # A timeout is a connection error (the SDK's) or an OSError (the builtin's) too: asked first.
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return EngineTimeout(
            f"The engine at {base_url} did not answer in time.", hint="Try a shorter question or a smaller max tokens."
        )
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | OSError):
        return EngineUnreachable(
            f"Nothing answers at {base_url} (connection refused or dropped).",
            hint="Is the engine running? Check its log and the status panel.",
        )
    return EngineError(f"The engine stream failed: {type(exc).__name__}: {exc}")


def _no_thinking_budget() -> EngineError:
    return EngineError(
        "The engine cannot cap the thinking: it was started without a reasoning parser.",
        hint="Start vLLM with --reasoning-parser deepseek_r1, or clear the thinking budget.",
        code="no_thinking_budget",
    )


def _refusal(status: int, message: str, model: str | None) -> AppError:
    if status == 400 and (limit := _CONTEXT_LIMIT.search(message)):
        return ContextTooLong(
            f"The conversation is longer than the model's context of {limit.group(1)} tokens.",
            hint="Start a new conversation, shorten the message, or lower max tokens.",
        )
    if status == 400 and _NO_REASONING_CONFIG in message:
        return _no_thinking_budget()
    if status == 404:
        return ModelNotFound(
            f"The engine does not serve the model {model!r}: {message}",
            hint="Set SERVED_MODEL_NAME to a name the engine serves, or leave it empty.",
        )
    if status == 401:
        return EngineError("The engine refused the API key.", hint="Set VLLM_API_KEY to the server's key.")
    if status == 503:
        return EngineNotReady(f"The engine is not ready: {message}", hint="Wait for it to finish loading.")
    return EngineError(f"The engine answered {status}: {message}")


def _server_message(exc: openai.APIStatusError) -> str:
    """The message in the engine's error body, as the SDK read it (OpenAI's `{"error": {"message"}}`
    comes as its inner object, vLLM's older `{"message"}` as it is, text as text)."""
    body = exc.body
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:1000]
    return f"HTTP {exc.status_code}"
