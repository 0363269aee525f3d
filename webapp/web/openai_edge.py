"""The ASGI edge of `/v1`: errors in OpenAI's shape, whoever made them, and any key in open mode.

Clients show `error.message` of `{"error": {"message", "type", "code"}}`. A `/v1` request can be
refused before any route sees it (the gate: too large, a host not served; authentication: no
valid token), so the translation is here, outermost, once for all of them. Without accounts
there are no API tokens, yet OpenAI clients always send a key: in open mode it is set aside
before authentication, and the route admits only this machine (`openai_api.caller`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/v1/"
# OpenAI's error types, by status; a 422 (a body that does not validate) is OpenAI's 400.
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
# The app's error kinds under the codes OpenAI's clients know.
CODES = {
    "unauthorized": "invalid_api_key",
    "rate_limited": "rate_limit_exceeded",
    "context_too_long": "context_length_exceeded",
    "invalid_input": "invalid_request",
}
STATUSES = {422: 400}


def openai_error(status: int, body: bytes) -> tuple[int, bytes]:
    """An error answer of the app (`{"error": {"kind", "message", "hint"}}`, or FastAPI's `detail`) in
    OpenAI's shape, with its status."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    found = data.get("error") if isinstance(data, dict) else None
    if isinstance(found, dict):
        message = " ".join(str(part) for part in (found.get("message"), found.get("hint")) if part)
        kind = found.get("kind")
        code = found.get("code") if kind is None else CODES.get(str(kind), str(kind))
    else:
        detail = data.get("detail") if isinstance(data, dict) else None
        message, code = (str(detail) if detail else f"HTTP {status}"), None
    status = STATUSES.get(status, status)
    kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    error = {"message": message, "type": kind, "code": code, "param": None}
    return status, json.dumps({"error": error}, ensure_ascii=False).encode()


class OpenAIEdge:
    """Outermost middleware for `/v1` paths; every other request passes untouched."""

    def __init__(self, app: ASGIApp, *, accounts: bool) -> None:
        self.app = app
        self.accounts = accounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope.get("path", "") + "/").startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        if not self.accounts:
            # The key a client must send means nothing here; this machine is asked for instead.
            scope = dict(scope, headers=[(n, v) for n, v in scope.get("headers", []) if n != b"authorization"])
        start: Message | None = None
        held: list[bytes] = []

        async def translating_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message  # held until its body is whole, then sent in OpenAI's shape
                return
            if start is None:
                await send(message)
                return
            held.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status, body = openai_error(start["status"], b"".join(held))
            headers = MutableHeaders(raw=list(start.get("headers", [])))
            headers["content-type"] = "application/json"
            headers["content-length"] = str(len(body))
            await send({"type": "http.response.start", "status": status, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, translating_send)
