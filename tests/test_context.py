"""Clamping the answer budget to the context window."""

from __future__ import annotations

import pytest

from webapp.chat.context import MIN_ANSWER_TOKENS, answer_budget
from webapp.errors import ContextTooLong


@pytest.mark.parametrize(
    ("prompt", "limit", "requested", "expected"),
    [(100, 4096, 2048, 2048), (3000, 4096, 2048, 1096), (10, 512, 100_000, 502)],
)
def test_budget_is_the_request_clamped_to_what_fits(prompt: int, limit: int, requested: int, expected: int) -> None:
    assert answer_budget(prompt, limit, requested) == expected


def test_a_prompt_that_leaves_no_room_is_refused_plainly() -> None:
    with pytest.raises(ContextTooLong, match="needs 4,090 tokens"):
        answer_budget(4096 - MIN_ANSWER_TOKENS + 10, 4096, 2048)
