"""Rules every request meets before any route sees it, in one ASGI middleware.

- The Host must be one the app serves: a page on `evil.example` that DNS rebinding points at
  127.0.0.1 would otherwise be "this machine", which open mode trusts as admin.
- A request that changes something and carries ambient credentials (a cookie, or being on this
  machine) must come from the app's own pages: another site's form or script is refused (login
  CSRF, a delete from a page on another port — the *same site* for SameSite cookies). A Bearer
  token is no ambient credential, so scripts using one are exempt.
- No other origin may read a response: Gradio's CORS layer would allow any localhost port (and
  any origin on other hosts) with credentials; its allow headers are removed and foreign
  preflights refused.
- Every response gets the usual headers: no framing by other sites, no MIME sniffing, no
  referrer to other sites, and a Content-Security-Policy that lets the page load nothing remote
  (an image in a message must not call its author's server with every viewer's browser).
- Bodies are bounded while they are read: a 50 MB POST is refused before it is held in memory.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.errors import AppError, Forbidden, TooLarge, UnknownHost, error_body

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Headers only a proxy sets. Uvicorn resolves X-Forwarded-For from trusted proxies
# (FORWARDED_ALLOW_IPS) into the client address; these others it does not read at all.
PROXY_ONLY_HEADERS = ("forwarded", "x-real-ip", "x-forwarded-host")
# The chat page is Gradio's: its scripts and styles are its own and inline; everything it loads
# comes from this origin. No remote images, fonts, frames or connections.
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)
SECURITY_HEADERS = {
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
# FastAPI's API docs load Swagger UI / ReDoc from a CDN: they keep their own (no user content there).
NO_CSP_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
# The page uploads nothing; Gradio's upload routes would store any file sent to them (and hand a
# "recording" to ffmpeg).
REFUSED_PATHS = ("/gradio_api/upload", "/gradio_api/process_recording")
# Gradio's file routes fetch a URL given in place of a file and answer with it from this origin,
# which the page's CSP allows: the page needs no remote file, so none is fetched for it.
FILE_PATHS = ("/gradio_api/file=", "/gradio_api/file/")


def host_name(host: str) -> str:
    """The name in a Host header, without its port, lower-case: `[::1]:7860` -> `::1`. A port that is
    no number leaves the header whole (`localhost:1.evil.example` names no host of ours)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, port = host[1:].partition("]")
        return name if port == "" or (port.startswith(":") and port[1:].isdigit()) else host
    name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name.rstrip(".") if port == "" or port.isdigit() else host


def is_loopback(address: str | None) -> bool:
    """True for an IP address of this machine's loopback interface (`127.0.0.1`, `::1`, ...)."""
    try:
        return address is not None and ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def from_this_machine(client: str | None, headers: Mapping[str, str]) -> bool:
    """True when a person on this machine is asking, which open mode trusts as admin.

    The connection must come from loopback, for a loopback host name (a rebound DNS name is
    not this machine), and not through a proxy: a proxy on this machine makes every visitor a
    loopback client. A proxy that sets X-Forwarded-For is believed (uvicorn has already put
    the client it names in `client`, if FORWARDED_ALLOW_IPS trusts it) only when every address
    it names is loopback; one that sets only headers uvicorn does not read is never this machine.
    """
    if client is None or not is_loopback(client):
        return False
    if host_name(headers.get("host", "")) not in LOOPBACK_NAMES:
        return False
    if any(name in headers for name in PROXY_ONLY_HEADERS):
        return False
    forwarded_for = headers.get("x-forwarded-for")
    return forwarded_for is None or all(is_loopback(hop) for hop in forwarded_for.split(","))


class HostPolicy:
    """The host names the app answers to: loopback names always, plus ALLOWED_HOSTS.

    With ALLOWED_HOSTS empty the app answers to APP_HOST, or to any name when it listens on
    every interface (a container's name is not known in advance). Names can be added at run
    time: the share tunnel's host once the tunnel is open.
    """

    def __init__(self, allowed: Iterable[str], *, bind_host: str) -> None:
        names = {host_name(n) for n in allowed if n.strip()}
        self.any = "*" in names or (not names and bind_host.strip() in WILDCARD_BINDS)
        self.names = set(LOOPBACK_NAMES) | names - {"*"}
        if not names and not self.any:
            self.names.add(host_name(bind_host))

    @classmethod
    def from_setting(cls, allowed_hosts: str, *, bind_host: str) -> HostPolicy:
        return cls(allowed_hosts.split(","), bind_host=bind_host)

    def allow(self, host: str) -> None:
        self.names.add(host_name(host))

    def serves(self, host: str | None) -> bool:
        # No Host at all (HTTP/1.0 probes): nothing to rebind, and never "this machine".
        return host is None or self.any or host_name(host) in self.names


def fetches_remote(path: str) -> bool:
    """True for a Gradio file route given a URL (`/gradio_api/file=https://...`) instead of a file."""
    return any(
        path.startswith(prefix) and path[len(prefix) :].lower().startswith(("http:", "https:")) for prefix in FILE_PATHS
    )


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL or an Origin header, lower-case; "" if it has none."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


class Gate:
    """The ASGI middleware that applies this module's rules; outermost, before authentication."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: HostPolicy,
        trusted_origins: Iterable[str] = (),
        max_body_bytes: int,
        larger_bodies: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        """`larger_bodies`: paths that take bodies over MAX_BODY_BYTES (an uploaded history), each
        with its own limit and the setting that sets it."""
        self.app = app
        self.hosts = hosts
        self.trusted = {o for o in (origin_of(origin) for origin in trusted_origins) if o}
        self.max_body_bytes = max_body_bytes
        self.larger_bodies = dict(larger_bodies or {})

    def _body_limit(self, scope: Scope) -> tuple[int, str]:
        return self.larger_bodies.get(scope.get("path", ""), (self.max_body_bytes, "MAX_BODY_BYTES"))

    def _own_origin(self, origin: str, host: str | None) -> bool:
        """An origin is the app's own when it names the Host this request was sent to (any scheme:
        behind a TLS proxy the app sees http), or is trusted by configuration."""
        return origin in self.trusted or (host is not None and urlsplit(origin).netloc == host.strip().lower())

    def _refusal(self, headers: Headers, scope: Scope) -> AppError | None:
        """Why this request may not go on, or None."""
        host = headers.get("host")
        if len(headers.getlist("host")) > 1:  # a proxy in front may have routed by another of them
            return UnknownHost("This request names more than one host.", hint="Send one Host header.")
        if not self.hosts.serves(host):
            return UnknownHost(
                f"This app does not serve the host name {host_name(host or '')!r}.",
                hint="Open it by a name it serves, or add that name to ALLOWED_HOSTS.",
            )
        path = scope.get("path", "")
        if scope["type"] == "http" and scope.get("method") == "POST" and path.startswith(REFUSED_PATHS):
            return Forbidden("This app takes no file uploads.")
        if fetches_remote(path):
            return Forbidden("This app fetches nothing from other sites for its pages.")
        if scope["type"] == "http" and scope.get("method") not in UNSAFE_METHODS:
            return None
        if headers.get("authorization", "").lower().startswith("bearer "):
            return None  # no ambient credential: another site's page cannot send it
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site == "same-origin":
            return None  # the browser says so, and no page can forge a Sec- header (behind any proxy)
        origin = headers.get("origin") or origin_of(headers.get("referer", ""))
        if origin:
            if origin != "null" and self._own_origin(origin_of(origin), host):
                return None
        elif fetch_site in (None, "none"):
            return None  # not a browser (curl, scripts), or the person's own navigation
        return Forbidden(
            f"This request came from another site's page ({origin or fetch_site}), so it was refused.",
            hint="Send it from the app's own page, with an API token (Authorization: Bearer ...), "
            "or add that origin to TRUSTED_ORIGINS.",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(headers, scope)
        if refusal is None and scope["type"] == "http":
            refusal = self._preflight_refusal(headers, scope)
        if refusal is not None:
            await _refuse(scope, send, refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self._body_limit(scope)[0]:
            await _refuse(scope, send, self._too_large(scope))
            return
        await self._serve(scope, receive, send, headers)

    def _preflight_refusal(self, headers: Headers, scope: Scope) -> AppError | None:
        origin = headers.get("origin")
        if scope.get("method") != "OPTIONS" or "access-control-request-method" not in headers or not origin:
            return None
        if self._own_origin(origin_of(origin), headers.get("host")):
            return None
        return Forbidden(f"Pages of {origin} may not call this app.")

    def _too_large(self, scope: Scope) -> TooLarge:
        limit, setting = self._body_limit(scope)
        return TooLarge(
            f"The request body is over {limit:,} bytes.", hint=f"Send less at once ({setting} sets the limit)."
        )

    async def _serve(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        origin = headers.get("origin")
        foreign = origin is not None and not self._own_origin(origin_of(origin), headers.get("host"))
        csp = scope.get("path", "") not in NO_CSP_PATHS
        limit = self._body_limit(scope)[0]
        received = 0
        too_large = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app makes of the cut body, the answer is 413 (below)
            if message["type"] == "http.response.start":
                started = True
                response = MutableHeaders(scope=message)
                if foreign:
                    for name in [n for n in response if n.startswith("access-control-")]:
                        del response[name]
                for name, value in SECURITY_HEADERS.items():
                    response.setdefault(name, value)
                if csp:
                    response.setdefault("content-security-policy", PAGE_CSP)
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not too_large:  # the app may have wrapped BodyTooLarge in its own error: either way
                raise
        if too_large and not started:
            await _refuse(scope, send, self._too_large(scope))


class BodyTooLarge(Exception):
    """Raised into the app from `receive` when a body passes the limit, to stop its reading."""


async def _refuse(scope: Scope, send: Send, error: AppError) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4000 + error.status})
        return
    body = json.dumps(error_body(error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
    if isinstance(error, TooLarge):
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
