"""The errors a user can meet, each with a message fit for a person.

Every layer raises these; the API and the UI translate them once, at their edge.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error the app shows to a person."""

    #: HTTP status the REST API answers with.
    status: int = 500
    #: Short machine-readable name, stable across releases.
    kind: str = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class EngineError(AppError):
    """The model engine could not answer."""

    status = 502
    kind = "engine_error"


class EngineNotReady(EngineError):
    """The engine is still starting, or has failed to start."""

    status = 503
    kind = "engine_not_ready"


class EngineUnreachable(EngineError):
    """Nothing answers at the engine's address."""

    status = 503
    kind = "engine_unreachable"


class EngineTimeout(EngineError):
    """The engine took longer than the request timeout."""

    status = 504
    kind = "engine_timeout"


class ModelNotFound(EngineError):
    """The engine does not serve the model the app asked for."""

    status = 502
    kind = "model_not_found"


class ContextTooLong(AppError):
    """The prompt and the answer budget do not fit in the model's context."""

    status = 413
    kind = "context_too_long"


class LaunchRefused(AppError):
    """A mistake in the engine configuration, seen before launching it."""

    status = 503
    kind = "launch_refused"


class InvalidInput(AppError):
    """Something a user or client sent cannot be used as it is."""

    status = 422
    kind = "invalid_input"


class MalformedBody(InvalidInput):
    """A request body that cannot even be parsed (not JSON, not UTF-8)."""

    status = 400


class NotFound(AppError):
    """An id that does not exist, or is not the asker's (the two look the same)."""

    status = 404
    kind = "not_found"


class TooLarge(InvalidInput):
    """Input over a size limit."""

    status = 413
    kind = "too_large"


class UnknownHost(AppError):
    """A request for a host name the app does not serve (a rebound DNS name, a stray proxy)."""

    status = 421
    kind = "unknown_host"


class Unauthorized(AppError):
    """No valid session or token, where one is needed."""

    status = 401
    kind = "unauthorized"


class Forbidden(AppError):
    """Signed in, but this needs an admin."""

    status = 403
    kind = "forbidden"


class Conflict(AppError):
    """The request clashes with what exists (e.g. a user name already taken)."""

    status = 409
    kind = "conflict"


class RateLimited(AppError):
    """Too many requests from one user, address or login name."""

    status = 429
    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = max(1, round(retry_after + 0.5))


def error_body(error: AppError) -> dict[str, Any]:
    """The JSON shape of every error the app answers with over HTTP."""
    return {"error": {"kind": error.kind, "message": error.message, "hint": error.hint}}
