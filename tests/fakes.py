"""Servers a real vLLM cannot imitate: one that dies mid-stream, one that never answers.

Used only for the cases a real engine cannot produce on demand.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


@contextmanager
def raw_server(handler_bytes: bytes | None) -> Iterator[str]:
    """A socket server on loopback; each connection gets `handler_bytes` then is closed.

    With `handler_bytes` None, it accepts and then says nothing until closed.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    stop = threading.Event()
    held: list[socket.socket] = []

    def loop() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)
            if handler_bytes is not None:
                conn.settimeout(2)
                try:
                    conn.recv(65536)  # the request; its content does not matter here
                    conn.sendall(handler_bytes)
                finally:
                    conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


def dying_stream(reasoning: str, answer: str) -> bytes:
    """An HTTP response that streams some thinking and answer, then drops the connection."""
    body = _chunk({"role": "assistant", "content": ""})
    body += _chunk({"reasoning": reasoning})
    body += _chunk({"content": answer})
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
    return head + body  # no finish_reason, no [DONE]: the engine died here
