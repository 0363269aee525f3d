"""The thinking/answer split, for servers with and without vLLM's reasoning parser."""

from __future__ import annotations

import pytest

from webapp.llm.reasoning import Piece, ReasoningSplitter, merge_pieces, split_completed


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


CASES: list[tuple[list[tuple[str | None, str | None]], str, str]] = [
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
]


@pytest.mark.parametrize(("deltas", "reasoning", "answer"), CASES)
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


@pytest.mark.parametrize("deltas", [case[0] for case in CASES] + [[("a", "b"), ("c", None), (None, "d"), ("e", "f")]])
@pytest.mark.parametrize("read", [1, 2, 3, 100])
def test_a_read_of_many_deltas_gives_what_they_give_one_by_one(
    deltas: list[tuple[str | None, str | None]], read: int
) -> None:
    one_by_one, at_once = ReasoningSplitter(), ReasoningSplitter()
    for start in range(0, len(deltas), read):
        batch = deltas[start : start + read]
        expected = merge_pieces([piece for delta in batch for piece in one_by_one.feed(*delta)])
        assert at_once.feed_all(batch) == expected  # texts, kinds and each piece's count of deltas
    assert at_once.finish() == one_by_one.finish()


def test_a_read_of_answer_deltas_is_one_piece_counting_them_all() -> None:
    splitter = ReasoningSplitter()
    splitter.feed("thought", None)  # the server's parser: the fields say which is which
    deltas: list[tuple[str | None, str | None]] = [("more ", None), ("thought", None)] + [
        (None, f"w{i} ") for i in range(5)
    ]
    assert splitter.feed_all(deltas) == [Piece("reasoning", "more thought", 2), Piece("content", "w0 w1 w2 w3 w4 ", 5)]
