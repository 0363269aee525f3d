"""`/v1`: OpenAI's own SDK against the running app and the real vLLM server on the scripted model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes import Reply
from tests.helpers import SERVED_NAME, USERS, FakeApp, LiveApp, app_beside, free_port, make_settings, running, sign_in
from webapp.application import create_app
from webapp.engine.tiny_model import SCRIPT_ANSWER, SCRIPT_REASONING
from webapp.web.openai_edge import openai_error


@pytest.fixture(scope="module")
def beside(live_app: LiveApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app with accounts on (and two messages a minute for each user) on the session's engine."""
    with app_beside(live_app, tmp_path_factory.mktemp("openai"), chat_rate_per_user="2/minute") as url:
        yield url


def client_for(url: str, key: str = "anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def token_of(url: str, name: str) -> str:
    with sign_in(url, name, USERS[name]) as http:
        token: str = http.post("/api/tokens", json={"name": "openai client"}).json()["token"]
        return token


def extra(message: Any, field: str) -> Any:
    """A field OpenAI's types do not declare (`reasoning_content`), as the SDK keeps it."""
    return (message.model_extra or {}).get(field)


def openai_shaped(exc: openai.APIStatusError, status: int, code: str) -> dict[str, Any]:
    assert exc.status_code == status
    error: dict[str, Any] = exc.response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["code"] == code and error["message"]
    return error


def test_models_lists_the_one_served_model(live_app: LiveApp) -> None:
    client = client_for(live_app.url)
    assert [m.id for m in client.models.list()] == [SERVED_NAME]
    assert client.models.retrieve(SERVED_NAME).owned_by


def test_a_whole_answer_has_its_thinking_apart(live_app: LiveApp) -> None:
    completion = client_for(live_app.url).chat.completions.create(
        model=SERVED_NAME,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    )
    message = completion.choices[0].message
    assert message.content == SCRIPT_ANSWER
    assert extra(message, "reasoning_content") == extra(message, "reasoning") == SCRIPT_REASONING
    assert completion.choices[0].finish_reason == "stop" and completion.model == SERVED_NAME
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0


def test_a_streamed_answer_sends_thinking_and_answer_in_separate_deltas(live_app: LiveApp) -> None:
    stream = client_for(live_app.url).chat.completions.create(
        model=SERVED_NAME,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    thinking = "".join(extra(d, "reasoning_content") or "" for d in deltas)
    assert thinking == "".join(extra(d, "reasoning") or "" for d in deltas) == SCRIPT_REASONING
    assert "".join(d.content or "" for d in deltas) == SCRIPT_ANSWER
    assert not any(d.content and extra(d, "reasoning_content") for d in deltas)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_r1s_rules_apply_to_the_history_a_client_sends(live_app: LiveApp) -> None:
    client = client_for(live_app.url)

    def prompt_tokens(messages: list[Any]) -> int:
        usage = client.chat.completions.create(model=SERVED_NAME, messages=messages, max_tokens=1).usage
        assert usage is not None
        return usage.prompt_tokens

    # The system text joins the first user turn (rendered apart, it would cost two tokens fewer here).
    # Earlier thinking is not sent back, in either field (this template would drop the tagged one too).
    folded = prompt_tokens([{"role": "user", "content": "Be brief.\n\nHi"}])
    assert prompt_tokens([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]) == folded
    past = {"role": "assistant", "content": "<think>long thought</think>Hello", "reasoning_content": "long thought"}
    plain = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "?"},
    ]
    assert prompt_tokens([plain[0], past, plain[2]]) == prompt_tokens(plain)


def test_sampling_out_of_r1s_range_is_clamped_and_said(live_app: LiveApp) -> None:
    raw = client_for(live_app.url).chat.completions.with_raw_response.create(
        model=SERVED_NAME, messages=[{"role": "user", "content": "Hi"}], temperature=1.0, max_tokens=2
    )
    assert raw.headers["x-sampling-clamped"] == "temperature=0.7"
    with pytest.raises(openai.BadRequestError) as refused:
        client_for(live_app.url).chat.completions.create(
            model=SERVED_NAME, messages=[{"role": "user", "content": "Hi"}], temperature=3
        )
    assert "between 0 and 2" in openai_shaped(refused.value, 400, "invalid_request")["message"]


def test_max_tokens_is_fitted_to_the_context_and_a_history_over_it_is_refused(live_app: LiveApp) -> None:
    client = client_for(live_app.url)
    hi: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
    # Past the context (the engine would refuse it): cut to what the context leaves.
    fitted = client.chat.completions.create(model=SERVED_NAME, messages=hi, max_tokens=1_000_000)
    assert fitted.choices[0].message.content == SCRIPT_ANSWER
    long: list[ChatCompletionMessageParam] = [{"role": "user", "content": "word " * live_app.settings.max_model_len}]
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model=SERVED_NAME, messages=long)
    assert "context" in openai_shaped(refused.value, 413, "context_length_exceeded")["message"]


def test_unknown_models_huge_messages_and_bad_bodies_are_refused_in_openais_shape(live_app: LiveApp) -> None:
    client = client_for(live_app.url)
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert SERVED_NAME in openai_shaped(unknown.value, 404, "model_not_found")["message"]
    huge = "x" * (live_app.settings.max_message_chars + 1)
    with pytest.raises(openai.APIStatusError) as too_large:
        client.chat.completions.create(model=SERVED_NAME, messages=[{"role": "user", "content": huge}])
    assert "limit" in openai_shaped(too_large.value, 413, "too_large")["message"]
    with pytest.raises(openai.BadRequestError) as invalid:
        client.chat.completions.create(model=SERVED_NAME, messages=[{"role": "tool", "content": "x"}])  # type: ignore[misc,list-item]
    assert openai_shaped(invalid.value, 400, "invalid_request")["type"] == "invalid_request_error"


def test_open_mode_answers_only_this_machine_and_never_other_sites_pages(fake_app: FakeApp) -> None:
    # A proxy on this machine makes every visitor a loopback client: its header says they are not.
    relayed = httpx.get(f"{fake_app.url}/v1/models", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403 and relayed.json()["error"]["type"] == "permission_error"
    # Without accounts the key is no credential, so a page of another site is refused as for /api,
    # and no other origin may read /v1 (its preflight is refused, no CORS header is given).
    body = {"model": "x", "messages": [{"role": "user", "content": "Hi"}]}
    foreign = {"Origin": "http://evil.example", "Authorization": "Bearer anything"}
    posted = httpx.post(f"{fake_app.url}/v1/chat/completions", json=body, headers=foreign)
    assert posted.status_code == 403 and posted.json()["error"]["type"] == "permission_error"
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    asked = httpx.options(f"{fake_app.url}/v1/chat/completions", headers=preflight)
    assert asked.status_code == 403 and "access-control-allow-origin" not in asked.headers


def test_with_accounts_an_api_token_is_the_key(beside: str) -> None:
    completion = client_for(beside, token_of(beside, "alice")).chat.completions.create(
        model=SERVED_NAME, messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == SCRIPT_ANSWER
    with pytest.raises(openai.AuthenticationError) as refused:
        client_for(beside, "r1c_made_up").models.list()
    assert openai_shaped(refused.value, 401, "invalid_api_key")["type"] == "authentication_error"


def test_the_chat_rate_limit_counts_v1_turns(beside: str) -> None:
    client = client_for(beside, token_of(beside, "bob"))
    for _ in range(2):
        client.chat.completions.create(model=SERVED_NAME, messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model=SERVED_NAME, messages=[{"role": "user", "content": "Hi"}])
    openai_shaped(limited.value, 429, "rate_limit_exceeded")
    assert int(limited.value.response.headers["retry-after"]) > 0


def test_v1_is_in_the_api_docs(tmp_path: Path) -> None:
    app = create_app(make_settings(data_dir=tmp_path, vllm_base_url="http://127.0.0.1:9/v1"))
    paths = app.openapi()["paths"]
    answer = paths["/v1/chat/completions"]["post"]["responses"]
    assert answer["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatCompletion")
    assert "text/event-stream" in answer["200"]["content"] and "429" in answer
    assert paths["/v1/models"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_errors_of_the_app_read_as_openais() -> None:
    body = b'{"error": {"kind": "engine_not_ready", "message": "The model is loading.", "hint": "Wait."}}'
    status, translated = openai_error(503, body)
    assert status == 503
    assert translated == (
        b'{"error": {"message": "The model is loading. Wait.", "type": "server_error", '
        b'"code": "engine_not_ready", "param": null}}'
    )
    assert openai_error(422, b'{"detail": "Not Found"}')[0] == 400


def test_an_engine_failing_midway_is_an_error_the_sdk_raises(fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["Hmm."], ["Part"], die=True)]
    client = client_for(fake_app.url)
    model = client.models.list().data[0].id
    try:
        stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], stream=True)
        seen: list[str] = []
        with pytest.raises(openai.APIError) as failed:
            for chunk in stream:
                seen.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
        assert "".join(seen) == "Part" and failed.value.message
        with pytest.raises(openai.InternalServerError) as whole:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])
        assert openai_shaped(whole.value, 502, "engine_error")["type"] == "server_error"
    finally:
        fake_app.fake.replies = [Reply()]


def test_an_engine_not_ready_is_a_503_the_sdk_shows(tmp_path: Path) -> None:
    settings = make_settings(vllm_base_url=f"http://127.0.0.1:{free_port()}/v1", port=free_port(), data_dir=tmp_path)
    with running(settings) as url:
        client = client_for(url)
        with pytest.raises(openai.InternalServerError) as refused:
            client.chat.completions.create(model=SERVED_NAME, messages=[{"role": "user", "content": "Hi"}])
        assert openai_shaped(refused.value, 503, "engine_not_ready")["type"] == "server_error"


@pytest.mark.parametrize("field", ["thinking_budget", "thinking_token_budget"])
def test_a_thinking_budget_by_either_name_cuts_the_thought_and_the_answer_follows(
    live_app: LiveApp, field: str
) -> None:
    client = client_for(live_app.url)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
    cut = client.chat.completions.create(model=SERVED_NAME, messages=messages, extra_body={field: 3})
    thought = extra(cut.choices[0].message, "reasoning_content")
    assert cut.choices[0].message.content == SCRIPT_ANSWER
    assert SCRIPT_REASONING.startswith(thought) and thought != SCRIPT_REASONING
    whole = client.chat.completions.create(model=SERVED_NAME, messages=messages, extra_body={field: 0})
    assert extra(whole.choices[0].message, "reasoning_content") == SCRIPT_REASONING  # 0: no cap
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=SERVED_NAME, messages=messages, extra_body={field: -1})
    assert field in openai_shaped(refused.value, 400, "invalid_request")["message"]
