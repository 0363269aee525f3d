"""A fixed-rate OpenAI-compatible stream, run in its own process: the upstream that finds the UI's own limits.

The last user message says what to stream: `bench:N@R` is N tokens at R tokens/s
(R = 0: as fast as the socket takes them), the first tenth as thinking (vLLM's
`reasoning` field), the rest as answer, the last token `END_MARK`. Tokens are
sent on a fixed schedule (token i at start + i/R), so a client that falls behind
does not slow the upstream down, and every chunk is serialised once, at start.

    python -m bench.upstream --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from typing import Any

MODEL = "bench-upstream"
SCRIPT = re.compile(r"bench:(\d+)@(\d+(?:\.\d+)?)")
DEFAULT_SCRIPT = (20, 0.0)
THINK_TOKEN = "think "
ANSWER_TOKEN = "tok "
END_MARK = " END-OF-ANSWER"


def script(text: str) -> tuple[int, float]:
    """(tokens, tokens per second) asked for in a message; 0 tokens/s is as fast as possible."""
    found = SCRIPT.search(text)
    return (int(found.group(1)), float(found.group(2))) if found else DEFAULT_SCRIPT


def _chunk(delta: dict[str, str], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {
        "id": "bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        body["usage"] = usage
    return _framed(f"data: {json.dumps(body)}\n\n".encode())


def _framed(data: bytes) -> bytes:
    """One piece of a chunked HTTP body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


ROLE = _chunk({"role": "assistant", "content": ""})
THINK = _chunk({"reasoning": THINK_TOKEN})
ANSWER = _chunk({"content": ANSWER_TOKEN})
END = _chunk({"content": END_MARK})
STOP = _chunk({}, finish="stop")
DONE = _framed(b"data: [DONE]\n\n")
LAST = b"0\r\n\r\n"


def tokens(count: int) -> list[bytes]:
    """The chunks of a `count`-token answer: a tenth thinking, then answer, then the end mark."""
    thinking = max(1, count // 10)
    return [THINK] * thinking + [ANSWER] * max(0, count - thinking - 1) + [END]


def _response(status: int, body: object) -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
    return head.encode() + data


async def _stream(writer: asyncio.StreamWriter, request: dict[str, Any]) -> None:
    messages = request.get("messages") or [{}]
    count, rate = script(str(messages[-1].get("content", "")))
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n" + ROLE)
    await writer.drain()
    started = time.monotonic()
    for index, chunk in enumerate(tokens(count)):
        if rate:
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        writer.write(chunk)
        await writer.drain()
    tail = STOP
    if (request.get("stream_options") or {}).get("include_usage"):
        tail += _chunk({}, usage={"prompt_tokens": 10, "completion_tokens": count, "total_tokens": count + 10})
    writer.write(tail + DONE + LAST)
    await writer.drain()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            method, path, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET" and path == "/health":
                writer.write(_response(200, {}))
            elif method == "GET" and path == "/v1/models":
                writer.write(_response(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]}))
            elif method == "POST" and path == "/v1/chat/completions":
                await _stream(writer, json.loads(body or b"{}"))
            else:  # no /tokenize: the app then leaves fitting the context to the engine
                writer.write(_response(404, {"error": {"message": f"no route {path}"}}))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
