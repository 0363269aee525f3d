"""`/api/usage` and the daily quota, over REST and `/v1`, against the app on the real vLLM server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.helpers import (
    ADMIN_PASSWORD,
    SERVED_NAME,
    USERS,
    LiveApp,
    app_beside,
    chat,
    new_conversation,
    sign_in,
    sse_events,
)

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def beside(live_app: LiveApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app with accounts on and a daily quota far above what these tests spend."""
    with app_beside(live_app, tmp_path_factory.mktemp("usage"), daily_tokens_per_user=1_000_000) as url:
        yield url


def client_for(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def token_of(http: httpx.Client) -> str:
    token: str = http.post("/api/tokens", json={"name": "usage"}).json()["token"]
    return token


def mine(http: httpx.Client) -> dict[str, object]:
    response = http.get("/api/usage")
    assert response.status_code == 200, response.text
    [owner] = response.json()["owners"]
    return dict(owner)


def test_usage_is_ones_own_an_admins_is_everyones_and_v1_counts(beside: str) -> None:
    with sign_in(beside, "alice", USERS["alice"]) as alice, sign_in(beside, "bob", USERS["bob"]) as bob:
        [*_, done] = sse_events(chat(alice, new_conversation(alice), content="Hi"))
        answer = done["message"]
        spent = mine(alice)
        # The engine's counts, as the stored answer keeps them.
        completion = answer["reasoning_tokens"] + answer["answer_tokens"]
        assert (spent["name"], spent["prompt_tokens"], spent["completion_tokens"]) == (
            "alice", answer["prompt_tokens"], completion
        )  # fmt: skip
        assert spent["today_tokens"] == spent["total_tokens"] and spent["turns"] == 1
        assert spent["daily_quota"] == 1_000_000 and spent["own_quota"] is False
        # A /v1 answer counts what its `usage` says, for the token's owner.
        usage = client_for(beside, token_of(bob)).chat.completions.create(model=SERVED_NAME, messages=HI).usage
        assert usage is not None
        assert (mine(bob)["prompt_tokens"], mine(bob)["completion_tokens"]) == (
            usage.prompt_tokens, usage.completion_tokens
        )  # fmt: skip
        assert mine(alice)["total_tokens"] == spent["total_tokens"]  # bob's is not alice's
    with sign_in(beside, "admin", ADMIN_PASSWORD) as admin:
        report = admin.get("/api/usage", params={"days": 7}).json()
        assert {o["name"] for o in report["owners"]} >= {"alice", "bob"}
        assert {d["name"] for d in report["days"]} >= {"alice", "bob"}
        for bad in ("0", "367", "soon"):
            assert admin.get("/api/usage", params={"days": bad}).status_code == 422
    with httpx.Client(base_url=beside) as anonymous:
        assert anonymous.get("/api/usage").status_code == 401


def test_past_the_quota_rest_and_v1_refuse_with_429_and_keep_the_message_unsent(beside: str) -> None:
    with sign_in(beside, "admin", ADMIN_PASSWORD) as admin, sign_in(beside, "alice", USERS["alice"]) as alice:
        conversation = new_conversation(alice)
        sse_events(chat(alice, conversation, content="Hi"))
        assert admin.put("/api/users/alice/quota", json={"daily_tokens": 1}).status_code == 204
        assert alice.put("/api/users/alice/quota", json={"daily_tokens": None}).status_code == 403
        assert admin.put("/api/users/nobody/quota", json={"daily_tokens": 1}).status_code == 404
        assert admin.put("/api/users/alice/quota", json={"daily_tokens": -1}).status_code == 422
        refused = chat(alice, conversation, content="one more")
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["kind"] == "insufficient_quota"
        assert "1 tokens" in error["message"] and "midnight UTC" in error["message"]
        assert 0 < int(refused.headers["retry-after"]) <= 86_400
        again = alice.post(f"/api/conversations/{conversation}/regenerate", json={})
        assert again.status_code == 429 and again.json()["error"]["kind"] == "insufficient_quota"
        stored = alice.get(f"/api/conversations/{conversation}").json()["messages"]
        assert "one more" not in [m["content"] for m in stored]  # refused before it was stored
        with pytest.raises(openai.RateLimitError) as limited:
            client_for(beside, token_of(alice)).chat.completions.create(model=SERVED_NAME, messages=HI)
        body = limited.value.response.json()["error"]
        assert (body["code"], body["type"]) == ("insufficient_quota", "rate_limit_error")
        assert "midnight UTC" in body["message"]
        assert mine(alice)["daily_quota"] == 1 and mine(alice)["own_quota"] is True
        # Back on the default quota: she may chat again.
        assert admin.delete("/api/users/alice/quota").status_code == 204
        assert sse_events(chat(alice, conversation, content="one more"))[-1]["type"] == "done"
