"""Token usage: every turn's tokens counted per owner and UTC day, as the engine reports them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tests.fakes import FakeEngine, Reply
from tests.helpers import SERVED_NAME, LiveApp, external_service, make_settings
from webapp.chat.context import prompt_token_bound
from webapp.chat.events import ChatEvent, TurnEnded
from webapp.chat.service import ChatService
from webapp.db.store import Store
from webapp.db.usage import day_of, next_midnight
from webapp.engine.supervisor import Engine
from webapp.errors import EngineNotReady
from webapp.llm.client import ModelClient
from webapp.llm.prompt import r1_messages

OWNER = "user:7"


@pytest.fixture
async def live_service(live_app: LiveApp, store: Store) -> AsyncIterator[ChatService]:
    client = ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model=SERVED_NAME)
    yield ChatService(live_app.engine, client, store)
    await client.aclose()


async def ended(turn: AsyncIterator[ChatEvent]) -> TurnEnded:
    events = [event async for event in turn]
    assert isinstance(events[-1], TurnEnded)
    return events[-1]


def test_days_are_utc_dates_and_reset_at_utc_midnight() -> None:
    moment = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
    assert day_of(moment) == "2026-05-28"
    assert next_midnight(moment) == 1_780_012_800.0  # 2026-05-29 00:00 UTC
    assert day_of(next_midnight(moment)) == "2026-05-29"


async def test_a_real_turn_counts_the_engines_own_tokens(live_service: ChatService, store: Store) -> None:
    conversation = await live_service.new_conversation(OWNER)
    first = (await ended(live_service.send(OWNER, conversation.id, "你好"))).message
    again = (await ended(live_service.regenerate(OWNER, conversation.id))).message
    [today] = store.usage.days(day_of(time.time()))
    assert (today.owner, today.day, today.turns) == (OWNER, day_of(time.time()), 2)
    # What vLLM's `usage` said, as each answer keeps it: the prompt, and thinking plus answer.
    assert first.prompt_tokens and again.prompt_tokens
    assert today.prompt_tokens == first.prompt_tokens + again.prompt_tokens
    spent = [(m.reasoning_tokens or 0) + (m.answer_tokens or 0) for m in (first, again)]
    assert today.completion_tokens == sum(spent) > 0
    assert store.usage.spent(OWNER, today.day) == today.total_tokens


async def test_a_stream_cut_short_counts_what_came_and_the_prompt_bound(store: Store) -> None:
    fake = FakeEngine([Reply(["half a ", "thought"], ["half an ", "answer"], die=True)])
    async with external_service(fake, store) as service:
        conversation = await service.new_conversation(OWNER)
        assert (await ended(service.send(OWNER, conversation.id, "one"))).error is not None
    [today] = store.usage.days("0000-00-00")
    bound = prompt_token_bound(r1_messages([{"role": "user", "content": "one"}]))
    assert (today.prompt_tokens, today.completion_tokens, today.turns) == (bound, 4, 1)


async def test_a_turn_refused_before_the_engine_counts_nothing(store: Store) -> None:
    engine = Engine(make_settings(vllm_base_url="http://127.0.0.1:9/v1"))  # never started: not ready
    client = ModelClient("http://127.0.0.1:9/v1")
    service = ChatService(engine, client, store)
    conversation = await service.new_conversation(OWNER)
    assert isinstance((await ended(service.send(OWNER, conversation.id, "there?"))).error, EngineNotReady)
    await client.aclose()
    assert store.usage.days("0000-00-00") == []
