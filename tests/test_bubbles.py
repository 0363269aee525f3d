"""A stored answer as the chat shows it (pure): the note under a thought the thinking budget cut, its duration."""

from __future__ import annotations

from dataclasses import replace

import pytest

from webapp.db.records import MessageRecord
from webapp.ui.bubbles import answer_bubbles
from webapp.ui.i18n import Lang

ANSWER = MessageRecord(
    id=1, conversation_id="c", role="assistant", content="Four.", reasoning="Two and two", state="complete",
    finish_reason="stop", error=None, prompt_tokens=5, reasoning_tokens=64, answer_tokens=2, ttft_ms=10.0,
    tokens_per_s=None, thinking_s=0.5, model="r1", temperature=0.6, top_p=0.95, max_tokens=None, math=False,
    created_at=0.0,
)  # fmt: skip


def thought(message: MessageRecord, lang: str = "en") -> str:
    first = answer_bubbles(message, "zh" if lang == "zh" else "en")[0]
    assert first.get("metadata"), "the thought comes first"
    return str(first["content"])


@pytest.mark.parametrize(("budget", "spent", "cut"), [(64, 64, True), (64, 63, False), (None, 64, False)])
def test_a_thought_the_budget_cut_says_so_under_it(budget: int | None, spent: int, cut: bool) -> None:
    message = replace(ANSWER, thinking_budget=budget, reasoning_tokens=spent)
    assert ("Cut here by the thinking budget (64 tokens)" in thought(message)) is cut
    assert ("思考预算（64 token）已用完" in thought(message, "zh")) is cut
    assert "Cut here" not in thought(message, "zh")


@pytest.mark.parametrize(
    ("seconds", "en", "zh", "duration"),
    [
        (0.03, "Thought (<0.1s)", "思考过程 (<0.1s)", None),  # Gradio shows no duration of 0.0
        (0.0, "Thought (<0.1s)", "思考过程 (<0.1s)", None),
        (0.5, "Thought", "思考过程", 0.5),
        (None, "Thought", "思考过程", None),  # not known (an old history): nothing said
    ],
)
def test_a_thought_says_how_long_it_took_however_quick(
    seconds: float | None, en: str, zh: str, duration: float | None
) -> None:
    message = replace(ANSWER, thinking_s=seconds)
    languages: tuple[tuple[Lang, str], ...] = (("en", en), ("zh", zh))
    for lang, title in languages:
        metadata = answer_bubbles(message, lang)[0]["metadata"]
        assert metadata["title"] == title and metadata.get("duration") == duration
