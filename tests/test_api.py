"""The REST API: conversations, SSE chat, export, and every bad input a client can send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.fakes import Reply
from tests.helpers import (
    ADMIN_PASSWORD,
    FakeApp,
    LiveApp,
    chat,
    free_port,
    make_settings,
    new_conversation,
    rate_or_too_quick,
    running,
    serve,
    sign_in,
    sse_events,
)
from webapp.application import create_app
from webapp.chat.preferences import Preferences
from webapp.chat.service import MAX_MESSAGE_CHARS
from webapp.db.tables import Share
from webapp.engine.tiny_model import SCRIPT_ANSWER, SCRIPT_REASONING
from webapp.llm.sampling import Sampling


@pytest.fixture
def http(live_app: LiveApp) -> Iterator[httpx.Client]:
    """A client with its own cookie jar: one anonymous owner."""
    with httpx.Client(base_url=live_app.url, timeout=60) as client:
        yield client


@pytest.fixture
def other(live_app: LiveApp) -> Iterator[httpx.Client]:
    """A second browser: another owner."""
    with httpx.Client(base_url=live_app.url, timeout=60) as client:
        yield client


def test_a_chat_streams_typed_events_and_is_stored(http: httpx.Client) -> None:
    conversation_id = new_conversation(http)
    response = chat(http, conversation_id, content="你好", temperature=0.6, math=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    events = sse_events(response)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "reasoning"
    assert kinds[-1] == "done"
    assert set(kinds) == {"reasoning", "content", "done"}
    assert "".join(e["text"] for e in events if e["type"] == "reasoning") == SCRIPT_REASONING
    assert "".join(e["text"] for e in events if e["type"] == "content") == SCRIPT_ANSWER
    done = events[-1]["message"]
    assert done["state"] == "complete"
    assert rate_or_too_quick(done["tokens_per_s"])
    stored = http.get(f"/api/conversations/{conversation_id}").json()
    assert stored["title"] == "你好"
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]


@pytest.mark.parametrize(("budget", "cut"), [(3, True), (0, False)])
def test_a_thinking_budget_cuts_the_stored_thought_and_the_answer_follows(
    http: httpx.Client, budget: int, cut: bool
) -> None:
    conversation_id = new_conversation(http)
    events = sse_events(chat(http, conversation_id, content="你好", thinking_budget=budget))
    assert events[-1]["type"] == "done"
    stored = http.get(f"/api/conversations/{conversation_id}").json()["messages"][-1]
    assert stored["content"] == SCRIPT_ANSWER
    # 0 is no cap: the whole thought; 3 tokens: the thought's first pieces only.
    assert (stored["reasoning"] != SCRIPT_REASONING) is cut
    assert SCRIPT_REASONING.startswith(stored["reasoning"])
    assert stored["reasoning_tokens"] <= (budget or len(SCRIPT_REASONING))
    assert stored["thinking_budget"] == (budget or None)  # kept: the page says when it cut the thought


def test_a_message_sent_while_an_answer_streams_is_a_409_and_stores_nothing(fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["t"], ["word "] * 300, interval=0.01), Reply(["t"], ["Short."])]
    with httpx.Client(base_url=fake_app.url, timeout=60) as http:
        conversation_id = new_conversation(http)
        url = f"/api/conversations/{conversation_id}/messages"
        with http.stream("POST", url, json={"content": "long please"}) as streaming:
            lines = streaming.iter_lines()
            assert next(line for line in lines if line.startswith("data: "))  # the answer has begun
            refused = chat(http, conversation_id, content="meanwhile")
            list(lines)  # the first answer runs to its end
        assert refused.status_code == 409
        assert refused.json()["error"]["kind"] == "conflict"
        assert "still being written" in refused.json()["error"]["message"]
        stored = http.get(f"/api/conversations/{conversation_id}").json()["messages"]
        assert [(m["role"], m["state"]) for m in stored] == [("user", "complete"), ("assistant", "complete")]
        assert [e["type"] for e in sse_events(chat(http, conversation_id, content="now"))][-1] == "done"


def test_list_rename_export_delete(http: httpx.Client) -> None:
    conversation_id = new_conversation(http)
    chat(http, conversation_id, content="export me")
    assert conversation_id in [c["id"] for c in http.get("/api/conversations").json()]
    assert [c["id"] for c in http.get("/api/conversations", params={"search": "export me"}).json()] == [conversation_id]
    renamed = http.patch(f"/api/conversations/{conversation_id}", json={"title": "Exported"})
    assert renamed.json()["title"] == "Exported"
    markdown = http.get(f"/api/conversations/{conversation_id}/export", params={"format": "md"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Exported")
    assert "<details><summary>Thinking</summary>" in markdown.text
    assert SCRIPT_ANSWER.strip() in markdown.text
    document = http.get(f"/api/conversations/{conversation_id}/export", params={"format": "json"}).json()
    assert [m["content"] for m in document["messages"]] == ["export me", SCRIPT_ANSWER]
    assert http.delete(f"/api/conversations/{conversation_id}").status_code == 204
    assert http.get(f"/api/conversations/{conversation_id}").status_code == 404


def test_another_owner_can_touch_nothing(http: httpx.Client, other: httpx.Client) -> None:
    conversation_id = new_conversation(http)
    chat(http, conversation_id, content="mine")
    assert conversation_id not in [c["id"] for c in other.get("/api/conversations").json()]
    attempts = [
        other.get(f"/api/conversations/{conversation_id}"),
        other.patch(f"/api/conversations/{conversation_id}", json={"title": "stolen"}),
        other.get(f"/api/conversations/{conversation_id}/export"),
        chat(other, conversation_id, content="hijack"),
        other.delete(f"/api/conversations/{conversation_id}"),
    ]
    for response in attempts:
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "No such conversation."
    assert len(http.get(f"/api/conversations/{conversation_id}").json()["messages"]) == 2


def test_a_forged_cookie_gets_a_fresh_owner(live_app: LiveApp, http: httpx.Client) -> None:
    conversation_id = new_conversation(http)
    owner_cookie = http.cookies["r1chat_owner"]
    forged = owner_cookie.rsplit(".", 1)[0] + "." + "0" * 64
    with httpx.Client(base_url=live_app.url, cookies={"r1chat_owner": forged}) as forger:
        assert forger.get(f"/api/conversations/{conversation_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"content": ""}, 422, "empty"),
        ({"content": "   "}, 422, "empty"),
        ({"content": "x" * (MAX_MESSAGE_CHARS + 1)}, 413, "the limit is"),
        ({"content": 42}, 422, "content: Input should be a valid string"),
        ({}, 422, "content: Field required"),
        ({"content": "hi", "temperature": 3}, 422, "temperature: Input should be less than or equal to 2"),
        ({"content": "hi", "temperature": "hot"}, 422, "temperature"),
        ({"content": "hi", "top_p": 0}, 422, "top_p: Input should be greater than 0"),
        ({"content": "hi", "max_tokens": 0}, 422, "max_tokens: Input should be greater than or equal to 1"),
        ({"content": "hi", "math": "yes"}, 422, "math: Input should be a valid boolean"),
        ({"content": "hi", "thinking_budget": -1}, 422, "thinking_budget: Input should be greater than or equal to 0"),
        ({"content": "hi", "thinking_budget": 10**7}, 422, "thinking_budget: Input should be less than or equal to"),
        ({"content": "hi", "thinking_budget": 2.5}, 422, "thinking_budget: Input should be a valid integer"),
        ({"content": "hi", "model": "other"}, 422, "model: Extra inputs are not permitted"),
    ],
)
def test_bad_message_bodies_get_a_clear_4xx(
    http: httpx.Client, body: dict[str, Any], status: int, message: str
) -> None:
    conversation_id = new_conversation(http)
    response = chat(http, conversation_id, **body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]
    assert http.get(f"/api/conversations/{conversation_id}").json()["messages"] == []  # nothing half-stored


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"{not json", "application/json"), (b'{"content": "\xff\xfe"}', "application/json")],
)
def test_invalid_json_or_utf8_is_a_400(http: httpx.Client, raw: bytes, content_type: str) -> None:
    conversation_id = new_conversation(http)
    response = http.post(
        f"/api/conversations/{conversation_id}/messages", content=raw, headers={"content-type": content_type}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_unknown_ids_and_bad_parameters(http: httpx.Client) -> None:
    assert http.get("/api/conversations/does-not-exist").status_code == 404
    assert chat(http, "does-not-exist", content="hi").status_code == 404
    conversation_id = new_conversation(http)
    bad_format = http.get(f"/api/conversations/{conversation_id}/export", params={"format": "pdf"})
    assert bad_format.status_code == 422
    assert "format" in bad_format.json()["error"]["message"]
    assert http.patch(f"/api/conversations/{conversation_id}", json={"title": ""}).status_code == 422
    assert http.patch(f"/api/conversations/{conversation_id}", json={"title": 5}).status_code == 422


def test_the_api_is_described_in_openapi(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert "/api/conversations" in paths
    assert "/api/conversations/{conversation_id}/messages" in paths
    assert "/api/conversations/{conversation_id}/export" in paths


@pytest.fixture
def fake_http(fake_app: FakeApp) -> Iterator[httpx.Client]:
    """A client of the app on the fake engine, with its own cookie jar: one anonymous owner."""
    with httpx.Client(base_url=fake_app.url, timeout=60) as client:
        yield client


def test_new_conversations_are_rate_limited_per_owner(fake_http: httpx.Client, fake_app: FakeApp) -> None:
    for _ in range(60):  # CONVERSATION_RATE's default: 60 a minute
        new_conversation(fake_http)
    refused = fake_http.post("/api/conversations")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["message"] == "Too many new conversations: you may start 60 per minute."
    assert len(fake_http.get("/api/conversations").json()) == 60
    with httpx.Client(base_url=fake_app.url) as someone_else:
        new_conversation(someone_else)


def test_new_conversations_are_rate_limited_per_address_however_many_owners_it_plays(tmp_path: Path) -> None:
    # In open mode a browser that drops its cookie is a new owner, with a fresh rate and cap of its own.
    settings = make_settings(
        vllm_base_url="http://127.0.0.1:9/v1", port=free_port(), host="127.0.0.1", data_dir=tmp_path,
        conversation_rate_per_ip="3/minute",
    )  # fmt: skip
    with running(settings) as url:
        owners = [httpx.Client(base_url=url, timeout=30) for _ in range(4)]
        try:
            assert [owner.post("/api/conversations").status_code for owner in owners[:2]] == [201, 201]
            imported = owners[2].post("/api/import", files={"file": ("c.json", b"[]", "application/json")})
            assert imported.status_code == 201  # an import counts as one new conversation
            refused = owners[3].post("/api/conversations")
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"]["message"] == (
                "Too many new conversations: your network address may start 3 per minute."
            )
        finally:
            for owner in owners:
                owner.close()


def test_an_owner_past_the_cap_of_conversations_is_told_to_delete_some(
    fake_http: httpx.Client, fake_app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fake_app.service.max_conversations == 10_000  # MAX_CONVERSATIONS's default, wired in
    monkeypatch.setattr(fake_app.service, "max_conversations", 2)
    kept = [new_conversation(fake_http) for _ in range(2)]
    refused = fake_http.post("/api/conversations", json={"title": "one too many"})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["message"], error["hint"]) == (
        "You have 2 conversations: the most one may keep.",
        "Delete some to start a new one.",
    )
    assert fake_http.delete(f"/api/conversations/{kept[0]}").status_code == 204
    new_conversation(fake_http)


def test_titles_lose_control_characters_on_every_path(fake_http: httpx.Client, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["t"], ["ok"])]
    made = fake_http.post("/api/conversations", json={"title": "nul\u0000 and\ttab\u009b"})
    assert made.status_code == 201
    conversation_id = made.json()["id"]
    assert fake_http.get(f"/api/conversations/{conversation_id}").json()["title"] == "nul and tab"
    renamed = fake_http.patch(f"/api/conversations/{conversation_id}", json={"title": "two\u0000\nlines"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "two lines"
    emptied = fake_http.patch(f"/api/conversations/{conversation_id}", json={"title": "\u0000\u0007"})
    assert emptied.status_code == 422 and "empty" in emptied.json()["error"]["message"]
    untitled = new_conversation(fake_http)
    assert sse_events(chat(fake_http, untitled, content="first\u0000 line\nsecond"))[-1]["type"] == "done"
    assert fake_http.get(f"/api/conversations/{untitled}").json()["title"] == "first line second"


def test_nul_and_lone_surrogates_in_a_message_or_answer_are_not_a_500(
    fake_http: httpx.Client, fake_app: FakeApp
) -> None:
    """PostgreSQL refuses NUL in text, and neither database takes a lone surrogate (JSON's "\\ud800")."""
    fake_app.fake.replies = [Reply(["thought\u0000"], ["an\u0000swer"])]
    conversation_id = new_conversation(fake_http)
    response = chat(fake_http, conversation_id, content="a\u0000b")
    assert response.status_code == 200
    assert sse_events(response)[-1]["type"] == "done"
    raw = b'{"content": "half \\ud83d pair"}'
    response = fake_http.post(
        f"/api/conversations/{conversation_id}/messages", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200 and sse_events(response)[-1]["type"] == "done"
    stored = fake_http.get(f"/api/conversations/{conversation_id}").json()["messages"]
    assert [(m["content"], m["reasoning"]) for m in stored] == [
        ("ab", ""),
        ("answer", "thought"),
        ("half \ufffd pair", ""),
        ("answer", "thought"),
    ]
    only_nul = chat(fake_http, conversation_id, content="\u0000")
    assert only_nul.status_code == 422 and "empty" in only_nul.json()["error"]["message"]


def test_ids_search_terms_and_share_tokens_with_a_nul_are_not_found(fake_http: httpx.Client) -> None:
    conversation_id = new_conversation(fake_http)
    assert fake_http.get(f"/api/conversations/{conversation_id}%00").status_code == 404
    assert fake_http.patch("/api/conversations/x%00", json={"title": "t"}).status_code == 404
    assert chat(fake_http, "x%00", content="hi").status_code == 404
    searched = fake_http.get("/api/conversations", params={"search": "any\u0000thing"})
    assert searched.status_code == 200 and searched.json() == []
    assert fake_http.get("/s/" + "a" * 43 + "%00").status_code == 404


def test_sharing_again_after_the_link_expired_gives_a_new_link(fake_http: httpx.Client, fake_app: FakeApp) -> None:
    conversation_id = new_conversation(fake_http)
    first = fake_http.post(f"/api/conversations/{conversation_id}/share", json={"expires_in_days": 1}).json()
    with fake_app.service.store.database.sql.begin() as connection:
        token = first["url"].removeprefix("/s/")
        connection.execute(update(Share).where(Share.token == token).values(expires_at=time.time() - 1))
    assert fake_http.get(first["url"]).status_code == 404
    again = fake_http.post(f"/api/conversations/{conversation_id}/share", json={"expires_in_days": 1})
    assert again.status_code == 201 and again.json()["url"] != first["url"]
    assert fake_http.get(first["url"]).status_code == 404  # the expired link stays dead
    assert fake_http.get(again.json()["url"]).status_code == 200


@pytest.mark.parametrize("accounts", [True, False])
def test_readyz_tells_why_only_to_the_signed_in_when_accounts_are_on(tmp_path: Path, accounts: bool) -> None:
    missing = tmp_path / "no-such-model"
    settings = make_settings(
        model=str(missing),
        engine_port=free_port(),
        port=free_port(),
        data_dir=tmp_path / "data",
        vllm_log_file=tmp_path / "engine.log",
        admin_password=ADMIN_PASSWORD if accounts else None,
    )
    with serve(create_app(settings), settings.port) as url, httpx.Client(base_url=url) as stranger:
        anonymous = stranger.get("/readyz")
        assert anonymous.status_code == 503
        if accounts:
            assert anonymous.json() == {"ready": False, "engine": "error"}  # no path, no reason
            assert str(missing) not in anonymous.text
            with sign_in(url, "admin", ADMIN_PASSWORD) as admin:
                told = admin.get("/readyz")
        else:
            told = anonymous  # open: everyone is told
        assert told.status_code == 503
        assert told.json()["engine"] == "error"
        assert str(missing) in told.json()["error"]["message"]
        for path in ("/healthz", "/metrics"):  # the other public probes say nothing of paths or settings
            probe = stranger.get(path)
            assert probe.status_code == 200 and str(tmp_path) not in probe.text


def test_a_chat_is_pinned_and_unpinned_through_patch_and_listed_first(fake_http: httpx.Client) -> None:
    first, second = new_conversation(fake_http), new_conversation(fake_http)
    pinned = fake_http.patch(f"/api/conversations/{first}", json={"pinned": True})
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    listed = fake_http.get("/api/conversations").json()
    assert [(c["id"], c["pinned"]) for c in listed[:2]] == [(first, True), (second, False)]
    both = fake_http.patch(f"/api/conversations/{first}", json={"title": "Kept on top", "pinned": False}).json()
    assert (both["title"], both["pinned"]) == ("Kept on top", False)
    assert fake_http.patch(f"/api/conversations/{first}", json={}).status_code == 422
    assert fake_http.patch(f"/api/conversations/{first}", json={"pinned": "yes"}).status_code == 422
    assert fake_http.patch("/api/conversations/nope", json={"pinned": True}).status_code == 404


def test_another_owner_can_neither_pin_share_nor_read_the_feedback_of_a_chat(
    fake_http: httpx.Client, fake_app: FakeApp
) -> None:
    mine = new_conversation(fake_http)
    with httpx.Client(base_url=fake_app.url, timeout=60) as other:
        for response in (
            other.patch(f"/api/conversations/{mine}", json={"pinned": True}),
            other.post(f"/api/conversations/{mine}/share", json={}),
            other.delete(f"/api/conversations/{mine}/share"),
            other.get(f"/api/conversations/{mine}/feedback"),
            other.get(f"/api/conversations/{mine}/export"),
        ):
            assert response.status_code == 404, response.request.url
        assert other.get("/api/shares").json() == []
    assert fake_http.get(f"/api/conversations/{mine}").json()["pinned"] is False
    assert fake_http.get("/api/shares").json() == []


def test_a_chat_whose_answer_is_being_written_is_not_deleted_until_it_ends(
    fake_http: httpx.Client, fake_app: FakeApp
) -> None:
    fake_app.fake.replies = [Reply(["t "] * 3, ["word "] * 40, interval=0.05)]
    conversation_id = new_conversation(fake_http)
    with fake_http.stream("POST", f"/api/conversations/{conversation_id}/messages", json={"content": "hi"}) as stream:
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("data: "))  # the answer has begun
        refused = fake_http.delete(f"/api/conversations/{conversation_id}")
        assert refused.status_code == 409
        assert refused.json()["error"]["message"].startswith("An answer is still being written in this chat")
        assert '"type":"done"' in "".join(lines)  # the answer ends whole, and is kept
    assert fake_http.get(f"/api/conversations/{conversation_id}").json()["messages"][-1]["state"] == "complete"
    assert fake_http.delete(f"/api/conversations/{conversation_id}").status_code == 204
    assert fake_http.get(f"/api/conversations/{conversation_id}").status_code == 404


def test_saved_settings_fill_in_what_a_message_leaves_out(fake_http: httpx.Client, fake_app: FakeApp) -> None:
    """The chat page sends with `saved_settings`: its settings panel's, as the owner saved them."""
    fake_app.fake.replies = [Reply(["t"], ["Done."])]
    conversation_id = new_conversation(fake_http)
    owner = fake_http.cookies["r1chat_owner"].rpartition(".")[0]
    sampling = Sampling(temperature=1.3, top_p=0.5, max_tokens=77, math=True, persona="You are a pirate.")
    asyncio.run(fake_app.service.save_preferences(owner, Preferences(sampling)))
    sent = []
    for body in ({"saved_settings": True}, {"saved_settings": True, "temperature": 0.2, "math": False}, {}):
        before = len(fake_app.fake.requests)
        assert sse_events(chat(fake_http, conversation_id, content="ahoy?", **body))[-1]["type"] == "done"
        sent.append(fake_app.fake.requests[before])
    saved, overridden, plain = sent
    assert (saved["temperature"], saved["top_p"], saved["max_tokens"]) == (1.3, 0.5, 77)
    assert "You are a pirate." in str(saved["messages"]) and "step by step" in str(saved["messages"])
    assert (overridden["temperature"], overridden["top_p"]) == (0.2, 0.5)  # what the message gives wins
    assert "step by step" not in str(overridden["messages"]).split("ahoy?")[-1]
    assert plain["temperature"] == 0.6 and "You are a pirate." not in str(plain["messages"])  # the model card's
