"""What went wrong talking to the engine, as the app's errors: the one translation.

Whatever fails — the connection (aiohttp's errors; httpx's in the synchronous client), the
engine's answer (an error status, `EngineRefused`) or the stream (`StreamFailed`) —
becomes here one of `webapp.errors`' AppErrors, with a message and a hint for a person.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping

import aiohttp
import httpx

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


class EngineRefused(Exception):
    """The engine answered a request with an error status."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.message = _server_message(body) or f"HTTP {status}"
        super().__init__(f"{status}: {self.message}")


def engine_error(exc: BaseException, *, base_url: str, model: str | None = None) -> AppError:
    """The app's error for `exc`, raised talking to the engine at `base_url`.

    Users see the plain translation; the operator's log gets what the library said, but for a
    prompt too long for the context (the user's to fix)."""
    if isinstance(exc, AppError):
        return exc
    error = _translated(exc, base_url, model)
    if not isinstance(error, ContextTooLong):
        log.warning("engine request to %s failed: %s (%s: %s)", base_url, error, type(exc).__name__, exc)
    return error


def _translated(exc: BaseException, base_url: str, model: str | None) -> AppError:
    if isinstance(exc, EngineRefused):
        return _refusal(exc, model)
    if isinstance(exc, StreamFailed):
        return EngineError(str(exc))
    # A timeout is an OSError too: asked first.
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return EngineTimeout(
            f"The engine at {base_url} did not answer in time.", hint="Try a shorter question or a smaller max tokens."
        )
    if isinstance(exc, aiohttp.ClientError | httpx.TransportError | OSError):
        return EngineUnreachable(
            f"Nothing answers at {base_url} (connection refused or dropped).",
            hint="Is the engine running? Check its log and the status panel.",
        )
    return EngineError(f"The engine stream failed: {type(exc).__name__}: {exc}")


def _refusal(exc: EngineRefused, model: str | None) -> AppError:
    if exc.status == 400 and (limit := _CONTEXT_LIMIT.search(exc.message)):
        return ContextTooLong(
            f"The conversation is longer than the model's context of {limit.group(1)} tokens.",
            hint="Start a new conversation, shorten the message, or lower max tokens.",
        )
    if exc.status == 404:
        return ModelNotFound(
            f"The engine does not serve the model {model!r}: {exc.message}",
            hint="Set SERVED_MODEL_NAME to a name the engine serves, or leave it empty.",
        )
    if exc.status == 401:
        return EngineError("The engine refused the API key.", hint="Set VLLM_API_KEY to the server's key.")
    if exc.status == 503:
        return EngineNotReady(f"The engine is not ready: {exc.message}", hint="Wait for it to finish loading.")
    return EngineError(f"The engine answered {exc.status}: {exc.message}")


def _server_message(body: bytes) -> str:
    """The message in an error body: OpenAI's `{"error": {"message"}}`, vLLM's older `{"message"}`, or the text."""
    text = body.decode(errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:1000]
    if isinstance(data, Mapping):
        inner = data.get("error", data)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str) and inner:
            return inner
        if data.get("message"):
            return str(data["message"])
    return text[:1000]
