"""The conversation list's data (pure): day groups, the one Tab stop, titles kept as text."""

from __future__ import annotations

import time
from typing import Any

import pytest

from webapp.db.records import ConversationInfo
from webapp.ui.chat_list import chat_list, day_groups

NOW = time.mktime((2026, 12, 5, 15, 0, 0, 0, 0, -1))  # a Saturday afternoon, local time
HOUR = 3600.0


def chat(name: str, hours_ago: float, pinned: bool = False) -> ConversationInfo:
    at = NOW - hours_ago * HOUR
    return ConversationInfo(id=name, title=name, created_at=at, updated_at=at, pinned=pinned)


@pytest.mark.parametrize(
    ("hours_ago", "group"),
    [
        (0, "today"),
        (14, "today"),
        (16, "yesterday"),
        (38, "yesterday"),
        (40, "last_week"),
        (24 * 7, "last_week"),
        (24 * 8, "older"),
        (24 * 400, "older"),
    ],
)
def test_a_chat_falls_in_the_group_of_its_local_day(hours_ago: float, group: str) -> None:
    assert day_groups([chat("c", hours_ago)], NOW) == [(group, [chat("c", hours_ago)])]


def test_groups_are_newest_first_and_empty_ones_are_left_out() -> None:
    chats = [chat("old", 24 * 30), chat("now", 0), chat("morning", 5)]
    assert [(key, [c.id for c in items]) for key, items in day_groups(chats, NOW)] == [
        ("today", ["now", "morning"]),
        ("older", ["old"]),
    ]


def test_the_open_chat_holds_the_lists_one_tab_stop_and_the_first_does_without_one() -> None:
    chats = [chat("a", 1), chat("b", 2)]

    def stops(value: dict[str, Any]) -> list[int]:
        return [item["tab"] for group in value["groups"] for item in group["items"]]

    assert stops(chat_list(chats, "en", "b", NOW)) == [-1, 0]
    assert stops(chat_list(chats, "en", None, NOW)) == [0, -1]
    assert chat_list([], "zh", None, NOW)["groups"] == []


def test_group_names_and_untitled_chats_are_in_the_pages_language() -> None:
    untitled = ConversationInfo(id="x", title="", created_at=NOW, updated_at=NOW)
    assert chat_list([untitled], "zh", None, NOW)["groups"][0] == {
        "name": "今天",
        "items": [{"id": "x", "title": "新对话", "current": False, "tab": 0, "pinned": False}],
    }
    assert chat_list([untitled], "en", None, NOW)["groups"][0]["name"] == "Today"


def test_pinned_chats_come_first_in_a_group_of_their_own_whatever_their_day() -> None:
    chats = [chat("now", 0), chat("old pin", 24 * 30, pinned=True), chat("pin", 3, pinned=True)]
    assert [(key, [c.id for c in items]) for key, items in day_groups(chats, NOW)] == [
        ("pinned", ["pin", "old pin"]),
        ("today", ["now"]),
    ]
    value = chat_list(chats, "zh", None, NOW)
    assert [group["name"] for group in value["groups"]] == ["已置顶", "今天"]
    assert [item["pinned"] for item in value["groups"][0]["items"]] == [True, True]
    assert (value["words"]["pin"], value["words"]["unpin"]) == ("置顶", "取消置顶")
    assert chat_list(chats, "en", None, NOW)["groups"][0]["name"] == "Pinned"
