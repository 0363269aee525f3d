"""Servers for the cases the real ones cannot produce on demand (or cannot be reached here).

An OpenAI-compatible server: a stream that dies midway, a server that never answers,
model output with HTML or script in it, a fixed-rate stream. A model hub: Hugging
Face cannot be reached from here, and a download must also be slowed, cut or refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One scripted answer: pieces of thinking, pieces of answer, and how it ends."""

    reasoning: list[str] = field(default_factory=lambda: ["Let me think."])
    content: list[str] = field(default_factory=lambda: ["Fine."])
    die: bool = False  # drop the connection after the pieces, with no finish reason
    silent: bool = False  # accept the request and never answer
    interval: float = 0.0  # seconds between pieces
    finish: str = "stop"  # the finish reason ("length": cut by max_tokens)


@dataclass
class FakeEngine:
    """A server on loopback answering chat requests with the queued replies (the last one repeats)."""

    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    requests: list[dict[str, object]] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)  # the path of every POST, answered or not
    headers: list[dict[str, str]] = field(default_factory=list)  # of every chat request, names in lower case
    peers: list[int] = field(default_factory=list)  # the client's port of every GET: which connection
    health: bool = True  # False: no /health route (404), as on OpenAI-compatible servers other than vLLM
    api_key: str | None = None  # set: /v1/models answers 401 to any other key
    got: list[str] = field(default_factory=list)  # the path of every GET

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    body = {
        "id": "fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-r1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def _handler(fake: FakeEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As uvicorn (vLLM's server) does: with Nagle's algorithm a small write waits for the
        # ACK of the one before, up to 40 ms of the client's delayed ACK.
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            fake.peers.append(self.client_address[1])
            fake.got.append(self.path)
            if self.path == "/health" and fake.health:
                self._json(200, {})
            elif (
                self.path == "/v1/models"
                and fake.api_key
                and self.headers.get("authorization") != f"Bearer {fake.api_key}"
            ):
                self._json(401, {"error": {"message": "wrong key"}})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": "fake-r1", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            fake.posted.append(self.path)
            if self.path != "/v1/chat/completions":
                self._json(404, {"error": {"message": "not found"}})
                return
            fake.requests.append(request)
            fake.headers.append({name.lower(): value for name, value in self.headers.items()})
            reply = fake.next_reply()
            if reply.silent:
                time.sleep(30)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(_chunk({"role": "assistant", "content": ""}))
            for kind, pieces in (("reasoning", reply.reasoning), ("content", reply.content)):
                for piece in pieces:
                    if reply.interval:
                        time.sleep(reply.interval)
                    self.wfile.write(_chunk({kind: piece}))
                    self.wfile.flush()
            if reply.die:
                return  # the engine died here: no finish reason, no [DONE]
            self.wfile.write(_chunk({}, finish=reply.finish))
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@contextmanager
def serve_fake(fake: FakeEngine) -> Iterator[str]:
    """Run `fake` on a free loopback port; yield its `/v1` base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


# -- a model hub -------------------------------------------------------------------

LFS_SUFFIXES = (".safetensors", ".bin")


@dataclass
class FakeRepo:
    """One model repository: its files at a single commit (LFS for weights, as on the real hub)."""

    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    gated: bool = False

    def blob_id(self, path: str) -> str:
        """The git blob id, which the hub sends as the ETag of a file kept in git."""
        data = self.files[path]
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES)


@dataclass
class FakeHub:
    """A Hugging Face Hub on loopback: the routes huggingface_hub calls to list and download a repo.

    Weights (LFS files) redirect to a second server, as the real hub redirects to its CDN on
    another host. `hold` pauses a file halfway until `release` is set; `drop` cuts a file's
    body halfway, once (and with `down_after_drop` the CDN then answers 503 until `cdn_down`
    is reset); `cdn_down` makes the CDN answer 503.
    """

    repos: dict[str, FakeRepo]
    hold: str | None = None
    cut_after: int | None = None  # bytes of a file sent before holding or dropping (default: half)
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    drop: set[str] = field(default_factory=set)
    down_after_drop: bool = False
    cdn_down: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    bodies: list[tuple[str, int]] = field(default_factory=list)  # (file, first byte) of each GET of content
    url: str = ""
    cdn_url: str = ""

    def fetched(self, name: str) -> list[int]:
        """Where each GET of a file's content started (0, or the offset of a resumed one)."""
        return [start for served, start in self.bodies if served == name]


def _hub_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As uvicorn (vLLM's server) does: with Nagle's algorithm a small write waits for the
        # ACK of the one before, up to 40 ms of the client's delayed ACK.
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self._send(status, {"Content-Type": "application/json", **(headers or {})}, data)

        def _not_found(self, code: str, message: str) -> None:
            self._json(404, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

        def do_HEAD(self) -> None:
            self._route()

        def do_GET(self) -> None:
            self._route()

        def _route(self) -> None:
            path = urlsplit(self.path).path
            hub.requests.append((self.command, path))
            if path.startswith("/cdn/"):
                self._cdn(path.removeprefix("/cdn/"))
                return
            parts = path.strip("/").split("/")
            api = parts[0] == "api" and len(parts) >= 4 and parts[1] == "models"
            repo_id = "/".join(parts[2:4] if api else parts[0:2])
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._not_found("RepoNotFound", "Repository not found")
                return
            rest = parts[4:] if api else parts[2:]
            if api and (not rest or rest[0] == "revision"):
                self._json(200, self._info(repo_id, repo))
            elif api and rest[0] == "tree":
                self._json(200, [self._entry(repo, name) for name in repo.files])
            elif not api and len(rest) >= 3 and rest[0] == "resolve":
                self._resolve(repo, "/".join(rest[2:]))
            else:
                self._not_found("EntryNotFound", "Not found")

        def _info(self, repo_id: str, repo: FakeRepo) -> dict[str, object]:
            siblings = []
            for name, data in repo.files.items():
                sibling: dict[str, object] = {"rfilename": name, "size": len(data), "blobId": repo.blob_id(name)}
                if repo.is_lfs(name):
                    sibling["lfs"] = {"sha256": repo.sha256(name), "size": len(data), "pointerSize": 134}
                siblings.append(sibling)
            return {"_id": repo_id, "id": repo_id, "sha": repo.commit, "private": False, "gated": repo.gated,
                    "siblings": siblings}  # fmt: skip

        def _entry(self, repo: FakeRepo, name: str) -> dict[str, object]:
            entry: dict[str, object] = {"type": "file", "path": name, "size": len(repo.files[name]),
                                        "oid": repo.blob_id(name)}  # fmt: skip
            if repo.is_lfs(name):
                entry["lfs"] = {"oid": repo.sha256(name), "size": len(repo.files[name]), "pointerSize": 134}
            return entry

        def _resolve(self, repo: FakeRepo, name: str) -> None:
            if name not in repo.files:
                self._not_found("EntryNotFound", "Entry not found")
                return
            if repo.gated:
                message = "Access to this model is restricted: you must accept its terms"
                self._json(401, {"error": message}, {"X-Error-Code": "GatedRepo", "X-Error-Message": message})
                return
            data = repo.files[name]
            headers = {"X-Repo-Commit": repo.commit}
            if repo.is_lfs(name):
                # The metadata travels on the redirect itself: huggingface_hub stops there for another host.
                sha = repo.sha256(name)
                headers |= {"ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                            "Location": f"{hub.cdn_url}/cdn/{sha}"}  # fmt: skip
                self._send(302, headers)
                return
            self._body(name, data, headers | {"ETag": f'"{repo.blob_id(name)}"'})

        def _cdn(self, sha: str) -> None:
            if hub.cdn_down:
                self._send(503, {"Content-Type": "text/plain"}, b"Service Unavailable")
                return
            for repo in hub.repos.values():
                for name in repo.files:
                    if repo.is_lfs(name) and repo.sha256(name) == sha:
                        self._body(name, repo.files[name], {"ETag": f'"{sha}"'})
                        return
            self._send(404, {"Content-Type": "text/plain"}, b"NoSuchKey")

        def _body(self, name: str, data: bytes, headers: dict[str, str]) -> None:
            start = 0
            if (asked := self.headers.get("Range")) and (match := re.fullmatch(r"bytes=(\d+)-", asked)):
                start = int(match[1])
            part = data[start:]
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(part))} | headers
            status = 200
            if start:
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self._send(status, headers)
            if self.command == "HEAD":
                return
            hub.bodies.append((name, start))
            cut = hub.cut_after if hub.cut_after is not None else len(data) // 2
            cut = max(0, cut - start)
            if name in hub.drop:
                hub.drop.discard(name)
                hub.cdn_down = hub.down_after_drop
                self.wfile.write(part[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # the network went away mid-file
                return
            if name == hub.hold:
                self.wfile.write(part[:cut])
                self.wfile.flush()
                hub.holding.set()
                hub.release.wait(timeout=60)
                with contextlib.suppress(ConnectionError):  # the client may be gone: a stopped download
                    self.wfile.write(part[cut:])
                return
            self.wfile.write(part)

    return Handler


@contextmanager
def serve_hub(hub: FakeHub) -> Iterator[FakeHub]:
    """Run `hub` (and its CDN) on free loopback ports; its `url` is what HF_ENDPOINT takes."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _hub_handler(hub)) for _ in range(2)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    hub.url, hub.cdn_url = (f"http://127.0.0.1:{server.server_address[1]}" for server in servers)
    try:
        yield hub
    finally:
        hub.release.set()
        for server in servers:
            server.shutdown()
            server.server_close()
