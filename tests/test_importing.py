"""Reading exported histories (pure): ChatGPT's, Open WebUI's and this app's own JSON."""

from __future__ import annotations

import io
import json

import pytest

from tests.exports import chatgpt_conversation, node
from webapp.chat.export_scan import MAX_VALUES, scan
from webapp.chat.importing import epoch, parse_export
from webapp.chat.transfer import decode, file_name, parse_file
from webapp.db.records import ConversationDraft
from webapp.errors import InvalidInput, MalformedBody, TooLarge

LIMIT = 1000


def only(document: object) -> ConversationDraft:
    parsed = parse_export(document, max_user_chars=LIMIT)
    assert not parsed.skipped, parsed.skipped
    [(index, draft)] = parsed.conversations
    assert index == 1
    return draft


def test_chatgpt_follows_the_current_branch_and_keeps_its_text_parts_titles_and_times() -> None:
    draft = only([chatgpt_conversation()])
    assert draft.title == "Sums"
    assert (draft.created_at, draft.updated_at) == (1_700_000_000.5, 1_700_000_100.25)
    assert [(m.role, m.content) for m in draft.messages] == [("user", "What is 2+2?"), ("assistant", "It is 4.")]
    assert draft.messages[1].reasoning == "Adding."  # R1's thinking apart, as a live answer's
    assert draft.messages[0].created_at == 1_700_000_001


def test_chatgpt_without_a_current_node_follows_the_first_children() -> None:
    conversation = chatgpt_conversation() | {"current_node": None}
    draft = only([conversation])
    assert [m.content for m in draft.messages] == ["What is 2+2?", "Old answer, another branch."]


def test_open_webui_follows_current_id_and_unfolds_its_thinking() -> None:
    tree = {
        "u": {"id": "u", "parentId": None, "role": "user", "content": "Hi", "timestamp": 1_710_000_000},
        "x": {"id": "x", "parentId": "u", "role": "assistant", "content": "not chosen", "timestamp": 1_710_000_001},
        "a": {
            "id": "a",
            "parentId": "u",
            "role": "assistant",
            "content": '<details type="reasoning" done="true" duration="2">\n<summary>Thought for 2 seconds</summary>\n'
            "> Greet back.\n> Briefly.\n</details>\nHello!",
            "timestamp": 1_710_000_002,
            "model": "deepseek-r1:1.5b",
        },
    }
    chat = {"title": "Greeting", "history": {"messages": tree, "currentId": "a"}, "messages": []}
    draft = only(
        [{"id": "c", "title": "Greeting", "chat": chat, "created_at": 1_710_000_000, "updated_at": 1_710_000_009}]
    )
    assert draft.title == "Greeting"
    assert [(m.role, m.content) for m in draft.messages] == [("user", "Hi"), ("assistant", "Hello!")]
    assert draft.messages[1].reasoning == "Greet back.\nBriefly."
    assert draft.messages[1].model == "deepseek-r1:1.5b"
    assert draft.updated_at == 1_710_000_009


def test_the_apps_own_json_one_or_all() -> None:
    one = {
        "id": "abc",
        "title": "Mine",
        "created_at": 1.7e9,
        "updated_at": 1.7e9 + 5,
        "messages": [
            {"role": "user", "content": "Q", "reasoning": "", "state": "complete", "created_at": 1.7e9},
            {"role": "assistant", "content": "A", "reasoning": "R", "state": "truncated", "created_at": 1.7e9 + 1},
            {"role": "assistant", "content": "", "reasoning": "", "state": "error", "error": "engine down"},
        ],
    }
    draft = only(one)
    assert [(m.role, m.content, m.reasoning, m.state) for m in draft.messages] == [
        ("user", "Q", "", "complete"),
        ("assistant", "A", "R", "truncated"),
    ]
    parsed = parse_export({"format": "r1-chat-history", "conversations": [one, one]}, max_user_chars=LIMIT)
    assert [index for index, _ in parsed.conversations] == [1, 2]


def test_what_cannot_be_used_is_skipped_with_why_and_the_rest_kept() -> None:
    empty = {"title": "Nothing", "mapping": {"r": node("r", None, [], None)}, "current_node": "r"}
    long = {"title": "Long", "messages": [{"role": "user", "content": "x" * (LIMIT + 1)}]}
    odd = {"title": "Odd", "mapping": {"r": {"parent": None, "children": 5}}}  # children not a list
    parsed = parse_export([empty, chatgpt_conversation(), long, 42, odd], max_user_chars=LIMIT)
    assert [index for index, _ in parsed.conversations] == [2]
    reasons = {s.index: (s.title, s.reason) for s in parsed.skipped}
    assert reasons[1] == ("Nothing", "no text messages")
    assert reasons[3][0] == "Long" and "1,001 characters; the limit is 1,000" in reasons[3][1]
    assert "not a conversation" in reasons[4][1]
    assert reasons[5][0] == "Odd" and reasons[5][1].startswith("malformed (TypeError")


@pytest.mark.parametrize("document", [[{"name": "x"}], {"settings": {}}, "text", 3, [[1, 2]]])
def test_a_file_that_is_no_export_says_what_was_expected(document: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_export(document, max_user_chars=LIMIT)
    assert "ChatGPT's conversations.json" in str(refused.value)


def test_an_empty_export_is_no_conversation_not_an_error() -> None:
    assert parse_export([], max_user_chars=LIMIT).conversations == []


def test_bad_json_and_bad_encoding_are_said_plainly() -> None:
    with pytest.raises(MalformedBody, match="not valid JSON"):
        decode(b'[{"title": ')
    with pytest.raises(MalformedBody, match="not UTF-8"):
        decode('[{"title": "é"}]'.encode("latin-1"))
    assert decode(b"\xef\xbb\xbf[]") == []


def test_times_in_any_unit_become_seconds() -> None:
    assert epoch(1_700_000_000) == epoch(1_700_000_000_000) == epoch(1_700_000_000_000_000_000) == 1_700_000_000
    assert epoch(None) is epoch("2024") is epoch(float("nan")) is epoch(True) is epoch(-5) is None


def test_zip_names_are_safe() -> None:
    assert file_name(3, "../../etc/passwd") == "0003-etc_passwd.md"
    assert file_name(1, "数学 question: 2/3?") == "0001-数学 question_ 2_3.md"
    assert file_name(2, "") == "0002-conversation.md"


def test_a_list_is_read_one_entry_at_a_time_and_anything_else_whole() -> None:
    listed = b"\xef\xbb\xbf \n\t" + json.dumps([chatgpt_conversation(), {"x": 1}]).encode()
    parsed = parse_file(io.BytesIO(listed), max_user_chars=LIMIT)
    assert [index for index, _ in parsed.conversations] == [1]
    assert [s.index for s in parsed.skipped] == [2]
    assert parsed.conversations[0][1].created_at == 1_700_000_000.5  # a float, not a Decimal
    one = json.dumps({"title": "One", "messages": [{"role": "user", "content": "Hi"}]}).encode()
    assert len(parse_file(io.BytesIO(one), max_user_chars=LIMIT).conversations) == 1
    everything = {"format": "r1-chat-history", "version": 1, "conversations": [json.loads(one), {"x": 1}]}
    raw = json.dumps(everything).encode()
    assert scan(io.BytesIO(raw)).kind == "all"  # this app's export of everything is read entry by entry too
    parsed = parse_file(io.BytesIO(raw), max_user_chars=LIMIT)
    assert [index for index, _ in parsed.conversations] == [1] and [s.index for s in parsed.skipped] == [2]


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # 200 KB that ijson's prefixes would make gigabytes of
        b'{"conversations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
    ],
)
def test_json_nested_deeper_than_any_export_is_refused_before_it_is_parsed(raw: bytes) -> None:
    with pytest.raises(MalformedBody, match="nests deeper than 64 levels"):
        parse_file(io.BytesIO(raw), max_user_chars=LIMIT)


@pytest.mark.parametrize("wrap", [lambda inner: [inner], lambda inner: {"conversations": [inner]}, lambda inner: inner])
def test_a_conversation_of_countless_tiny_values_is_refused_before_it_is_built(wrap: object) -> None:
    # A few megabytes of `{},` would be hundreds of megabytes of Python objects once built.
    tiny = {"title": "bomb", "messages": [{}] * MAX_VALUES}
    raw = json.dumps(wrap(tiny)).encode()  # type: ignore[operator]
    with pytest.raises(TooLarge, match="more than 500,000 JSON values"):
        parse_file(io.BytesIO(raw), max_user_chars=LIMIT)


def test_a_file_is_read_up_to_twice_the_cap_of_entries_and_says_where_it_stopped() -> None:
    # Each entry that is no conversation is a line of the answer: their number is bounded too.
    raw = json.dumps([chatgpt_conversation(), *({"x": n} for n in range(24))]).encode()
    parsed = parse_file(io.BytesIO(raw), max_user_chars=LIMIT, most=10)
    assert [s.index for s in parsed.skipped] == [*range(2, 21), 21]
    assert "not read" in parsed.skipped[-1].reason and "MAX_CONVERSATIONS" in parsed.skipped[-1].reason
    chats = json.dumps([chatgpt_conversation()] * 12).encode()
    assert len(parse_file(io.BytesIO(chats), max_user_chars=LIMIT, most=10).conversations) == 12


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "not valid JSON"),
        (b'[{"title": "cut', "not valid JSON"),
        (b"[1, 2] trailing", "not valid JSON"),
        ('[{"title": "café"}]'.encode("latin-1"), "not UTF-8"),
        ('{"title": "café"}'.encode("latin-1"), "not UTF-8"),
    ],
)
def test_a_file_read_as_it_comes_says_what_is_wrong(raw: bytes, said: str) -> None:
    with pytest.raises(MalformedBody, match=said):
        parse_file(io.BytesIO(raw), max_user_chars=LIMIT)
