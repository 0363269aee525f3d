"""R1's rules of use, applied to every request."""

from __future__ import annotations

import pytest

from webapp.llm.prompt import MATH_INSTRUCTION, r1_messages, strip_reasoning


def test_system_message_is_folded_into_the_next_user_turn() -> None:
    out = r1_messages([{"role": "system", "content": "You are a poet."}, {"role": "user", "content": "Autumn?"}])
    assert out == [{"role": "user", "content": "You are a poet.\n\nAutumn?"}]


def test_no_system_role_ever_reaches_the_engine() -> None:
    out = r1_messages(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "system", "content": "Be brief."},
        ]
    )
    assert [m["role"] for m in out] == ["user", "assistant"]
    assert out[0]["content"] == "Be brief.\n\na"


def test_earlier_reasoning_is_never_sent_back() -> None:
    out = r1_messages(
        [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "long thought</think>\n\nanswer one"},
            {"role": "user", "content": "q2"},
        ]
    )
    assert out[1] == {"role": "assistant", "content": "answer one"}
    assert all("</think>" not in m["content"] for m in out)


def test_math_instruction_ends_the_last_user_turn_once() -> None:
    out = r1_messages([{"role": "user", "content": "1+1?"}], math=True)
    assert out[-1]["content"] == f"1+1?\n\n{MATH_INSTRUCTION}"
    assert r1_messages(out, math=True) == out


def test_content_parts_are_read_as_text() -> None:
    out = r1_messages([{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]}])
    assert out == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"role": "assistant", "content": "x"}], "at least one user message"),
        ([{"role": "tool", "content": "x"}], "unknown message role"),
        ([{"role": "user", "content": 42}], "must be text"),
    ],
)
def test_unusable_messages_are_refused(messages: list[dict[str, object]], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        r1_messages(messages)


def test_strip_reasoning_keeps_text_without_tags() -> None:
    assert strip_reasoning("plain") == "plain"
    assert strip_reasoning("a</think>b</think> c") == "c"
