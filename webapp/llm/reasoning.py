"""Separating R1's thinking from its answer in a stream of deltas.

R1's prompt already opens the thinking block (`<think>\\n`), so the output is
`...reasoning...</think>answer` with no opening tag. A vLLM server started with
`--reasoning-parser deepseek_r1` puts the thinking in a separate field
(`reasoning`, formerly `reasoning_content`); a server without the parser sends
everything as content, and the tags must be split here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

Kind = Literal["reasoning", "content"]


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text that is either thinking or answer, made of `tokens` deltas of the stream."""

    kind: Kind
    text: str
    tokens: int = 1


def _held_back(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that could be the start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ReasoningSplitter:
    """Turns a stream of (reasoning, content) deltas into thinking and answer pieces.

    Once the server has sent any reasoning field, it runs the parser and content is
    answer. If content comes first, the server runs without the parser: content is
    thinking until a raw `</think>`, as vLLM's own parser would decide.
    """

    def __init__(self) -> None:
        self._raw_mode: bool | None = None
        self._in_thinking = True
        self._pending = ""
        self._at_start = True

    def feed(self, reasoning: str | None, content: str | None) -> list[Piece]:
        """Take one delta; return the pieces that are certain so far."""
        pieces: list[Piece] = []
        if reasoning:
            if self._raw_mode is None:
                self._raw_mode = False
            pieces.append(Piece("reasoning", reasoning))
        if content:
            if self._raw_mode is None:
                self._raw_mode = True
            if self._raw_mode and self._in_thinking:
                pieces.extend(self._split_raw(content))
            else:
                pieces.append(Piece("content", content))
        return merge_pieces(pieces) if len(pieces) > 1 else pieces

    def feed_all(self, deltas: list[tuple[str | None, str | None]]) -> list[Piece]:
        """Take the deltas of one read; return its certain pieces, neighbours of a kind merged.

        Once it is settled which field is which (the server's parser, or a raw `</think>` seen),
        every delta is simply thinking or answer: runs of them are joined at once, without a
        piece per delta."""
        pieces: list[Piece] = []
        kind: Kind = "reasoning"
        run: list[str] = []  # texts of `kind`, one per delta
        for reasoning, content in deltas:
            if self._raw_mode is None or (self._raw_mode and self._in_thinking):
                if run:
                    pieces.append(Piece(kind, "".join(run), len(run)))
                    run = []
                pieces += self.feed(reasoning, content)
                continue
            fields: tuple[tuple[Kind, str | None], ...] = (("reasoning", reasoning), ("content", content))
            for text_kind, text in fields:
                if not text:
                    continue
                if text_kind != kind and run:
                    pieces.append(Piece(kind, "".join(run), len(run)))
                    run = []
                kind = text_kind
                run.append(text)
        if run:
            pieces.append(Piece(kind, "".join(run), len(run)))
        return merge_pieces(pieces) if len(pieces) > 1 else pieces

    def finish(self) -> list[Piece]:
        """Flush what was held back at the end of the stream."""
        text, self._pending = self._pending, ""
        if not text:
            return []
        return [Piece("reasoning" if self._in_thinking else "content", text)]

    def _split_raw(self, content: str) -> list[Piece]:
        text = self._pending + content
        self._pending = ""
        if self._at_start:
            # Older templates end at `<｜Assistant｜>`, so the model writes the tag itself.
            stripped = text.lstrip()
            if OPEN_TAG.startswith(stripped) and len(stripped) < len(OPEN_TAG):
                self._pending = text
                return []
            if stripped.startswith(OPEN_TAG):
                text = stripped[len(OPEN_TAG) :]
            self._at_start = False
        index = text.find(CLOSE_TAG)
        if index >= 0:
            self._in_thinking = False
            out = [Piece("reasoning", text[:index])] if index else []
            answer = text[index + len(CLOSE_TAG) :]
            if answer:
                out.append(Piece("content", answer))
            return out
        keep = _held_back(text, CLOSE_TAG)
        if keep:
            self._pending = text[-keep:]
            text = text[:-keep]
        return [Piece("reasoning", text)] if text else []


def merge_pieces(pieces: list[Piece]) -> list[Piece]:
    """Neighbouring pieces of one kind as one, holding all their deltas; empty ones dropped."""
    merged: list[Piece] = []
    run: list[Piece] = []  # pieces of one kind, joined once the kind changes
    for piece in pieces:
        if not piece.text:
            continue
        if run and run[-1].kind != piece.kind:
            merged.append(_joined(run))
            run = []
        run.append(piece)
    if run:
        merged.append(_joined(run))
    return merged


def _joined(run: list[Piece]) -> Piece:
    if len(run) == 1:
        return run[0]
    return Piece(run[0].kind, "".join(p.text for p in run), sum(p.tokens for p in run))


def split_completed(reasoning: str | None, content: str | None) -> tuple[str, str]:
    """Split a whole (non-streamed) reply into (reasoning, answer), from either server format."""
    splitter = ReasoningSplitter()
    pieces = splitter.feed(reasoning, content) + splitter.finish()
    return (
        "".join(p.text for p in pieces if p.kind == "reasoning"),
        "".join(p.text for p in pieces if p.kind == "content"),
    )
