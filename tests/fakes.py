"""An OpenAI-compatible server for the cases a real vLLM cannot produce on demand:
a stream that dies midway, a server that never answers, model output with HTML
or script in it, a fixed-rate stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted answer: pieces of thinking, pieces of answer, and how it ends."""

    reasoning: list[str] = field(default_factory=lambda: ["Let me think."])
    content: list[str] = field(default_factory=lambda: ["Fine."])
    die: bool = False  # drop the connection after the pieces, with no finish reason
    silent: bool = False  # accept the request and never answer
    interval: float = 0.0  # seconds between pieces


@dataclass
class FakeEngine:
    """A server on loopback answering chat requests with the queued replies (the last one repeats)."""

    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    requests: list[dict[str, object]] = field(default_factory=list)

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
            if self.path == "/health":
                self._json(200, {})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": "fake-r1", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/v1/chat/completions":
                self._json(404, {"error": {"message": "not found"}})
                return
            fake.requests.append(request)
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
            self.wfile.write(_chunk({}, finish="stop"))
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
