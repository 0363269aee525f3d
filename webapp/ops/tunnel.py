"""The public demo link: Gradio's share tunnel, opened for an app mounted on FastAPI.

`launch(share=True)` is not available to a mounted app, so this does what it does:
ask Gradio's share server for a tunnel and run its `frpc` client. Both need the
internet (the server at api.gradio.app, the client binary from Hugging Face's
CDN); `check_reachable` finds out in seconds, so `--share` on an offline machine
stops at once with what to do instead, rather than hanging.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0
SHARE_API = "https://api.gradio.app/v3/tunnel-request"  # gradio.networking.GRADIO_API_SERVER
ALTERNATIVES = (
    "Without internet access, share the app on your own network instead: start it with "
    "APP_HOST=0.0.0.0 and open port 7860 (or put it behind your reverse proxy); or run your own "
    "frp share server and set GRADIO_SHARE_SERVER_ADDRESS=host:port."
)


class ShareUnavailable(RuntimeError):
    """The share tunnel cannot be opened from this machine."""


def check_reachable(timeout: float = CHECK_TIMEOUT) -> None:
    """Raise ShareUnavailable, quickly, unless the share server (and the frpc binary) can be reached."""
    own_server = os.environ.get("GRADIO_SHARE_SERVER_ADDRESS")
    if own_server:
        host, _, port = own_server.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except (OSError, ValueError) as exc:
            raise ShareUnavailable(f"--share: the share server {own_server} cannot be reached ({exc}).") from exc
        return
    from gradio import tunneling  # imported late: it reads the platform and cache paths

    checks = [("GET", SHARE_API)]
    if not Path(tunneling.BINARY_PATH).exists():
        checks.append(("HEAD", tunneling.BINARY_URL))  # frpc is downloaded on first use
    for method, url in checks:
        try:
            with httpx.Client(timeout=timeout, follow_redirects=True) as http:
                http.request(method, url).raise_for_status()
        except httpx.HTTPError as exc:
            host = httpx.URL(url).host
            raise ShareUnavailable(
                f"--share needs the internet, and {host} cannot be reached from here "
                f"({type(exc).__name__}: {exc or 'no answer'}). {ALTERNATIVES}"
            ) from exc


def open_link(local_port: int) -> tuple[str, Callable[[], None]]:
    """Open the tunnel to `127.0.0.1:local_port`; returns the public URL and how to close it."""
    from gradio import networking

    url = networking.setup_tunnel("127.0.0.1", local_port, secrets.token_urlsafe(32), None, None)

    def close() -> None:
        from gradio.tunneling import CURRENT_TUNNELS

        for tunnel in CURRENT_TUNNELS:
            tunnel.kill()  # type: ignore[no-untyped-call]  # gradio leaves it untyped

    return url, close
