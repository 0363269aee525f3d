"""Reading a streamed chat completion: the body's bytes in, thinking and answer pieces out.

The one parser of a stream, for the synchronous client and the asynchronous one alike.
It does no I/O: the client hands it each read of the body as it comes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from webapp.llm.reasoning import Piece, ReasoningSplitter


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a stream: why it ended and what it cost."""

    finish_reason: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


StreamEvent = Piece | StreamEnd


class StreamFailed(Exception):
    """The engine said in the stream that it failed, or ended the stream before the answer did."""


class ServerSentData:
    """The JSON objects of a Server-Sent Events stream's `data: {...}` lines, from bytes as they come."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()  # an unfinished line waits for the rest of it
        # Other lines are blank separators, comments, or the closing `data: [DONE]`.
        objects = [line[6:] for line in lines if line.startswith(b"data: {")]
        if len(objects) > 1:
            # A read's objects read as one JSON array: one call instead of one per token.
            try:
                return orjson.loads(b"[" + b",".join(objects) + b"]")  # type: ignore[no-any-return]
            except orjson.JSONDecodeError:
                pass  # one of them is not orjson's: each on its own, as below
        return [_json(item) for item in objects]


def _json(data: bytes) -> Any:
    # Chunks are read by orjson (cheaper than json.loads). What orjson refuses and json takes
    # (an escaped lone surrogate) is read by json; the rest fails there.
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


class StreamParser:
    """One streamed answer, read: feed it each read of the body, take the pieces that are certain.

    With `answer_only` every piece is answer: the answer was begun already, so all that
    comes is answer (vLLM's reasoning parser, seeing no `</think>` in the new text, would
    call it reasoning).
    """

    def __init__(self, *, answer_only: bool = False) -> None:
        self._events = ServerSentData()
        self._splitter = ReasoningSplitter()
        self._answer_only = answer_only
        self.end = StreamEnd(None)

    @property
    def finished(self) -> bool:
        """Whether the answer has ended: only the usage and `[DONE]` may follow."""
        return self.end.finish_reason is not None

    def feed(self, data: bytes) -> list[Piece]:
        """The pieces one read of the body makes certain, neighbours of a kind as one."""
        deltas = []
        end = self.end
        for chunk in self._events.feed(data):
            if chunk.get("error"):
                raise StreamFailed(f"The engine stream failed: {chunk['error']}")
            deltas.append(_delta_text(chunk))
            end = _end_of(chunk, end)
        self.end = end
        return self._as_told(self._splitter.feed_all(deltas))

    def close(self) -> list[Piece]:
        """The text held back to the end; `StreamFailed` if the stream stopped before the answer ended."""
        pieces = self._as_told(self._splitter.finish())
        if not self.finished:
            raise StreamFailed("The engine closed the stream before the answer was finished.")
        return pieces

    def _as_told(self, pieces: list[Piece]) -> list[Piece]:
        if self._answer_only:
            return [Piece("content", piece.text, piece.tokens) for piece in pieces]
        return pieces


def _delta_text(chunk: dict[str, Any]) -> tuple[str | None, str | None]:
    choices = chunk.get("choices") or []
    if not choices:
        return None, None
    delta = choices[0].get("delta") or {}
    # Current vLLM sends `reasoning`; releases before 2026 sent `reasoning_content`.
    reasoning = delta.get("reasoning") or delta.get("reasoning_content")
    return (str(reasoning) if reasoning else None), delta.get("content")


def _end_of(chunk: dict[str, Any], previous: StreamEnd) -> StreamEnd:
    choices = chunk.get("choices")
    finish = (choices[0].get("finish_reason") if choices else None) or previous.finish_reason
    usage = chunk.get("usage")
    if usage:
        return StreamEnd(finish, usage.get("prompt_tokens"), usage.get("completion_tokens"))
    if finish is previous.finish_reason:
        return previous  # every token but the last: nothing ended yet
    return StreamEnd(finish, previous.prompt_tokens, previous.completion_tokens)
