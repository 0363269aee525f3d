"""The thinking/answer split, for servers with and without vLLM's reasoning parser."""

from __future__ import annotations

import pytest

from webapp.reasoning import Piece, ReasoningSplitter, split_completed


def run(deltas: list[tuple[str | None, str | None]]) -> tuple[str, str, list[Piece]]:
    splitter = ReasoningSplitter()
    pieces: list[Piece] = []
    for reasoning, content in deltas:
        pieces += splitter.feed(reasoning, content)
    pieces += splitter.finish()
    return (
        "".join(p.text for p in pieces if p.kind == "reasoning"),
        "".join(p.text for p in pieces if p.kind == "content"),
        pieces,
    )


@pytest.mark.parametrize(
    ("deltas", "reasoning", "answer"),
    [
        # vLLM with --reasoning-parser: separate fields, content is the answer.
        ([("Let me", None), (" think.", None), (None, "Hi"), (None, "!")], "Let me think.", "Hi!"),
        # Without the parser: R1 output has no opening tag, only a closing one.
        ([(None, "Let me think."), (None, "</think>"), (None, "\n\nHi!")], "Let me think.", "\n\nHi!"),
        # The closing tag split across chunks is still found.
        ([(None, "Hmm.</th"), (None, "ink>Yes")], "Hmm.", "Yes"),
        ([(None, "Hmm.<"), (None, "/"), (None, "think"), (None, ">"), (None, "Yes")], "Hmm.", "Yes"),
        # Older templates: the model writes the opening tag itself.
        ([(None, "<think>\nA"), (None, "</think>B")], "\nA", "B"),
        ([(None, "<thi"), (None, "nk>A</think>B")], "A", "B"),
        # No closing tag ever: everything was thinking (vLLM's parser decides the same).
        ([(None, "still thinking"), (None, " when cut")], "still thinking when cut", ""),
        # A text that only looks like the start of the tag is released at the end.
        ([(None, "a </th")], "a </th", ""),
        # After the answer began, later tags are plain answer text.
        ([(None, "r</think>x"), (None, "</think>y")], "r", "x</think>y"),
        # The model skipped thinking: an empty thought.
        ([(None, "\n\n</think>Answer")], "\n\n", "Answer"),
    ],
)
def test_splits_thinking_from_answer(deltas: list[tuple[str | None, str | None]], reasoning: str, answer: str) -> None:
    got_reasoning, got_answer, _ = run(deltas)
    assert (got_reasoning, got_answer) == (reasoning, answer)


def test_pieces_stream_as_they_come_not_at_the_end() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed(None, "first thought") == [Piece("reasoning", "first thought")]
    assert splitter.feed(None, " then</think>answer") == [Piece("reasoning", " then"), Piece("content", "answer")]


def test_adjacent_pieces_of_one_kind_are_merged() -> None:
    _, _, pieces = run([("a", "b")])
    assert pieces == [Piece("reasoning", "a"), Piece("content", "b")]


def test_split_completed_whole_text() -> None:
    assert split_completed(None, "why</think>because") == ("why", "because")
    assert split_completed(None, "no tags at all") == ("no tags at all", "")
    assert split_completed("parsed thought", "answer") == ("parsed thought", "answer")
