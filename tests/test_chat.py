"""A chat turn: stored before the model is called, saved once whatever ends it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.fakes import FakeEngine, Reply
from tests.helpers import SERVED_NAME, LiveApp, external_service, make_settings, rate_or_too_quick, run
from webapp.chat.context import model_messages
from webapp.chat.draft import Draft
from webapp.chat.events import ChatEvent, Notice, TurnEnded
from webapp.chat.preferences import Preferences
from webapp.chat.service import ChatService
from webapp.db.records import MessageRecord
from webapp.db.store import FinalAnswer, Store
from webapp.db.tables import MessageState
from webapp.engine.supervisor import Engine
from webapp.engine.tiny_model import REASONING_PIECES, SCRIPT_ANSWER, SCRIPT_REASONING
from webapp.errors import Conflict, ContextTooLong, EngineError, EngineNotReady, InvalidInput, NotFound, QuotaExceeded
from webapp.llm.client import ModelClient, TokenCount
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import Sampling

OWNER = "owner-1"


@pytest.fixture
async def live_service(live_app: LiveApp, store: Store) -> AsyncIterator[ChatService]:
    client = ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model=SERVED_NAME)
    yield ChatService(live_app.engine, client, store)
    await client.aclose()


def ended(events: list[ChatEvent]) -> TurnEnded:
    last = events[-1]
    assert isinstance(last, TurnEnded)
    return last


async def test_a_turn_stores_both_messages_with_their_figures(live_service: ChatService) -> None:
    conversation = await live_service.new_conversation(OWNER)
    events = await run(live_service.send(OWNER, conversation.id, "你好", Sampling(temperature=0.7)))
    answer = ended(events).message
    assert ended(events).error is None
    assert (answer.reasoning, answer.content, answer.state) == (SCRIPT_REASONING, SCRIPT_ANSWER, "complete")
    assert answer.finish_reason == "stop"
    assert answer.reasoning_tokens == len(REASONING_PIECES)
    assert answer.answer_tokens is not None and answer.answer_tokens > 0
    assert answer.ttft_ms is not None and answer.ttft_ms > 0
    assert rate_or_too_quick(answer.tokens_per_s)
    assert (answer.model, answer.temperature, answer.top_p) == (SERVED_NAME, 0.7, 0.95)
    stored = await live_service.messages(OWNER, conversation.id)
    assert [(m.role, m.content) for m in stored] == [("user", "你好"), ("assistant", SCRIPT_ANSWER)]
    assert (await live_service.conversation(OWNER, conversation.id)).title == "你好"


async def test_a_length_cut_answer_is_kept_as_truncated(live_service: ChatService) -> None:
    conversation = await live_service.new_conversation(OWNER)
    answer = ended(await run(live_service.send(OWNER, conversation.id, "hi", Sampling(max_tokens=3)))).message
    assert answer.state == MessageState.TRUNCATED
    assert answer.reasoning == "".join(REASONING_PIECES[:3])


@pytest.mark.parametrize("cut_at", [3, 10], ids=["while-thinking", "while-answering"])
async def test_a_cut_answer_continues_where_it_stopped(live_service: ChatService, cut_at: int) -> None:
    conversation = await live_service.new_conversation(OWNER)
    first = ended(await run(live_service.send(OWNER, conversation.id, "hi", Sampling(max_tokens=cut_at)))).message
    assert first.state == MessageState.TRUNCATED
    assert (first.reasoning + first.content) != SCRIPT_REASONING + SCRIPT_ANSWER
    turn = ended(await run(live_service.continue_answer(OWNER, conversation.id)))
    assert turn.error is None
    # The scripted model picks the script up at the cut: the whole answer, exactly, in one message.
    assert (turn.message.reasoning, turn.message.content) == (SCRIPT_REASONING, SCRIPT_ANSWER)
    assert turn.message.id == first.id
    assert turn.message.state == MessageState.COMPLETE
    stored = await live_service.messages(OWNER, conversation.id)
    assert [m.role for m in stored] == ["user", "assistant"]


async def test_only_a_cut_answer_can_be_continued(live_service: ChatService) -> None:
    conversation = await live_service.new_conversation(OWNER)
    await run(live_service.send(OWNER, conversation.id, "hi"))
    with pytest.raises(InvalidInput, match="cut by the length limit"):
        await run(live_service.continue_answer(OWNER, conversation.id))


async def test_old_turns_are_left_out_to_fit_with_a_notice(live_service: ChatService, store: Store) -> None:
    conversation = await live_service.new_conversation(OWNER)
    for number in range(8):
        store.add_message(OWNER, conversation.id, role="user", content=f"question {number}: " + "fox " * 40)
        store.add_message(OWNER, conversation.id, role="assistant", content="answer " * 20)
    events = await run(live_service.send(OWNER, conversation.id, "and now?"))
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1
    assert "earlier messages were left out" in notices[0].text
    assert ended(events).message.state == MessageState.COMPLETE


class CountingClient(ModelClient):
    """The real client, counting how often the engine is asked to count a prompt."""

    counted = 0

    async def acount_tokens(self, *args: Any, **kwargs: Any) -> TokenCount | None:
        self.counted += 1
        return await super().acount_tokens(*args, **kwargs)


async def test_a_prompt_that_surely_fits_is_not_sent_to_be_counted(live_app: LiveApp, store: Store) -> None:
    client = CountingClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model=SERVED_NAME)
    service = ChatService(live_app.engine, client, store)
    conversation = await service.new_conversation(OWNER)
    assert ended(await run(service.send(OWNER, conversation.id, "hi"))).message.state == MessageState.COMPLETE
    assert (client.counted, client.context_length) == (1, 512)  # the first turn learns the context
    turn = ended(await run(service.send(OWNER, conversation.id, "again")))
    assert client.counted == 1  # a few hundred bytes cannot fill 512 tokens
    # The engine was left to size the answer itself, and gave it all the room it needed.
    assert (turn.message.state, turn.message.content) == (MessageState.COMPLETE, SCRIPT_ANSWER)
    await run(service.send(OWNER, conversation.id, "fox " * 100))
    assert client.counted == 2  # 400 bytes might not fit with the answer's reserve: counted
    await client.aclose()


async def test_a_message_too_long_alone_is_told_plainly_and_kept(live_service: ChatService) -> None:
    conversation = await live_service.new_conversation(OWNER)
    turn = ended(await run(live_service.send(OWNER, conversation.id, "fox " * 600)))
    assert isinstance(turn.error, ContextTooLong)
    assert "context holds 512" in str(turn.error)
    stored = await live_service.messages(OWNER, conversation.id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].state == MessageState.ERROR


async def test_the_user_message_is_stored_even_when_the_engine_is_down(store: Store) -> None:
    engine = Engine(make_settings(vllm_base_url="http://127.0.0.1:9/v1"))  # never started: not ready
    service = ChatService(engine, ModelClient("http://127.0.0.1:9/v1"), store)
    conversation = await service.new_conversation(OWNER)
    turn = ended(await run(service.send(OWNER, conversation.id, "are you there?")))
    assert isinstance(turn.error, EngineNotReady)
    stored = await service.messages(OWNER, conversation.id)
    assert stored[0].content == "are you there?"
    assert stored[1].state == MessageState.ERROR
    assert stored[1].error and "still loading" in stored[1].error


async def test_turns_that_start_together_store_their_messages_in_few_commits(store: Store) -> None:
    service = ChatService(Engine(make_settings(vllm_base_url="http://127.0.0.1:9/v1")), ModelClient("x"), store)
    conversations = [await service.new_conversation(f"owner-{i}") for i in range(20)]
    commits: list[object] = []
    event.listen(store.database.sql, "commit", commits.append)
    begun = service.begin("owner-0", conversations[1].id, "not yours")  # another owner's: refused alone
    histories = await asyncio.gather(
        begun, *(service.begin(f"owner-{i}", c.id, f"question {i}") for i, c in enumerate(conversations)),
        return_exceptions=True,
    )  # fmt: skip
    assert isinstance(histories[0], NotFound)
    for i, history in enumerate(histories[1:]):
        assert isinstance(history, list) and [m.content for m in history] == [f"question {i}"]
    assert len(commits) <= 3  # the first alone, the rest together (not 21 commits)
    assert await service.messages("owner-1", conversations[1].id) == histories[2]


async def test_a_burst_of_turns_checks_its_quotas_in_the_transaction_that_stores_it(store: Store) -> None:
    settings = make_settings(vllm_base_url="http://127.0.0.1:9/v1")
    service = ChatService(Engine(settings), ModelClient("x"), store, daily_tokens=1_000)
    conversations = [await service.new_conversation(f"owner-{i}") for i in range(12)]
    store.usage.record("owner-3", 600, 400)  # the day's quota spent
    await service.quotas.set("owner-5", None)  # an admin lifted hers
    store.usage.record("owner-5", 600, 400)
    checkouts: list[object] = []  # connections taken: each read or transaction of its own takes one
    event.listen(store.database.sql, "checkout", lambda *_: checkouts.append(1))
    histories = await asyncio.gather(
        *(service.begin(f"owner-{i}", c.id, f"question {i}") for i, c in enumerate(conversations)),
        return_exceptions=True,
    )
    assert isinstance(histories[3], QuotaExceeded) and "1,000 tokens" in str(histories[3])
    for i, history in enumerate(histories):
        if i != 3:
            assert isinstance(history, list) and [m.content for m in history] == [f"question {i}"]
    assert len(checkouts) == 1  # no read of its own before the turns' one transaction
    assert await service.messages("owner-3", conversations[3].id) == []  # refused before it was stored
    assert ("owner-3", conversations[3].id) not in service._claims  # and the conversation given back


async def test_a_send_stores_its_message_and_reads_the_saved_settings_on_one_trip_to_the_database(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ChatService(Engine(make_settings(vllm_base_url="http://127.0.0.1:9/v1")), ModelClient("x"), store)
    conversation = await service.new_conversation(OWNER)
    mine = Preferences(Sampling(temperature=0.3, persona="Be brief."), show_reasoning=False)
    await service.save_preferences(OWNER, mine)
    loop = asyncio.get_running_loop()
    trips: list[object] = []  # calls handed to a worker thread (a busy machine makes each wait for a core)
    handed = loop.run_in_executor

    def counted(executor: Any, call: Any, *args: Any) -> Any:
        trips.append(call)
        return handed(executor, call, *args)

    monkeypatch.setattr(loop, "run_in_executor", counted)
    begun = await service.start(OWNER, conversation.id, "hi", settings=True)
    assert len(trips) == 1
    assert begun.preferences == mine and [m.content for m in begun.history] == ["hi"]
    monkeypatch.undo()
    another = await service.new_conversation(OWNER)
    assert (await service.start(OWNER, another.id, "again")).preferences is None  # not asked for
    theirs = await service.new_conversation("owner-2")  # never saved any: the model card's
    assert (await service.start("owner-2", theirs.id, "x", settings=True)).preferences == Preferences()


async def test_answers_that_end_together_are_written_together(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []  # answers written by each run, in one transaction each
    save_answers = store.save_answers

    def slow_first_run(answers: list[FinalAnswer]) -> list[MessageRecord | Exception]:
        runs.append(len(answers))
        deadline = time.monotonic() + 30
        # The first run lasts until every other turn has ended (their answers wait for the next).
        while len(runs) == 1 and len(service._answer_saves._waiting) < 12 - len(answers):
            assert time.monotonic() < deadline, "the other turns never ended"
            time.sleep(0.01)
        return save_answers(answers)

    monkeypatch.setattr(store, "save_answers", slow_first_run)
    async with external_service(FakeEngine([Reply(["hm"], ["yes"])]), store) as service:
        conversations = [await service.new_conversation(f"owner-{i}") for i in range(12)]
        turns = await asyncio.gather(
            *(run(service.send(f"owner-{i}", c.id, f"question {i}")) for i, c in enumerate(conversations))
        )
    for i, events in enumerate(turns):
        answer = ended(events).message
        assert (answer.content, answer.reasoning, answer.state) == ("yes", "hm", MessageState.COMPLETE)
        stored = await service.messages(f"owner-{i}", conversations[i].id)
        assert [m.role for m in stored] == ["user", "assistant"] and stored[-1] == answer
    assert sum(runs) == 12 and len(runs) == 2  # those that ended meanwhile went together, not one by one


async def test_an_engine_dying_midway_keeps_the_partial_answer_and_the_next_chat_works(store: Store) -> None:
    fake = FakeEngine([Reply(["half a ", "thought"], ["half an ", "answer"], die=True), Reply(["ok"], ["fine"])])
    async with external_service(fake, store) as service:
        conversation = await service.new_conversation(OWNER)
        first = ended(await run(service.send(OWNER, conversation.id, "one")))
        assert isinstance(first.error, EngineError)
        assert (first.message.reasoning, first.message.content) == ("half a thought", "half an answer")
        assert first.message.state == MessageState.ERROR
        second = ended(await run(service.send(OWNER, conversation.id, "two")))
        assert second.error is None
        assert second.message.content == "fine"
        # The partial answer goes back as history; its reasoning never does.
        assert fake.requests[-1]["messages"] == [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "half an answer"},
            {"role": "user", "content": "two"},
        ]


async def test_metrics_count_turns_tokens_and_errors(store: Store) -> None:
    fake = FakeEngine([Reply(["a", "b"], ["c"]), Reply(["x"], ["y"], die=True)])
    async with external_service(fake, store) as service:
        conversation = await service.new_conversation(OWNER)
        await run(service.send(OWNER, conversation.id, "one"))
        await run(service.send(OWNER, conversation.id, "two"))
    text = service.metrics.exposition().decode()
    assert "r1chat_chat_requests_total 2.0" in text
    assert "r1chat_tokens_streamed_total 5.0" in text
    assert 'r1chat_chat_errors_total{kind="engine_error"} 1.0' in text
    assert "r1chat_active_streams 0.0" in text
    assert "r1chat_time_to_first_token_seconds_count 2.0" in text


async def test_a_stopped_answer_is_saved_with_what_it_had(store: Store) -> None:
    fake = FakeEngine([Reply(["t"] * 3, ["word "] * 400, interval=0.01)])
    async with external_service(fake, store) as service:
        conversation = await service.new_conversation(OWNER)
        received: list[Piece] = []
        enough = asyncio.Event()

        async def consume() -> None:
            async for event in service.send(OWNER, conversation.id, "long please"):
                if isinstance(event, Piece):
                    received.append(event)
                    if len(received) >= 20:
                        enough.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(enough.wait(), timeout=30)
        task.cancel()  # what the stop button and a closed browser do
        with pytest.raises(asyncio.CancelledError):
            await task
        [_, answer] = await service.messages(OWNER, conversation.id)
        assert answer.state == MessageState.STOPPED
        assert answer.reasoning == "ttt"
        assert answer.content.startswith("word word")
        assert len(answer.content) >= len("word ") * 15


async def test_a_conversation_takes_one_turn_at_a_time_and_a_refused_one_stores_nothing(store: Store) -> None:
    fake = FakeEngine([Reply(["t"], ["word "] * 300, interval=0.01)] + [Reply(["t"], ["Short."])] * 3)
    async with external_service(fake, store) as service:
        busy, free = await service.new_conversation(OWNER), await service.new_conversation(OWNER)
        turn = service.send(OWNER, busy.id, "long please")
        assert isinstance(await anext(turn), Piece)  # the answer is being written
        before = await service.messages(OWNER, busy.id)
        attempts = [
            service.send(OWNER, busy.id, "meanwhile"),
            service.edit_last(OWNER, busy.id, "edited meanwhile"),
            service.regenerate(OWNER, busy.id),
            service.continue_answer(OWNER, busy.id),
        ]
        for attempt in attempts:
            with pytest.raises(Conflict, match="still being written"):
                await anext(attempt)
        assert await service.messages(OWNER, busy.id) == before  # nothing stored, nothing deleted
        with pytest.raises(NotFound):  # another owner's turn there is refused as ever, and holds nothing
            await anext(service.send("owner-2", busy.id, "hijack"))
        assert ended(await run(service.send(OWNER, free.id, "elsewhere"))).error is None  # other chats go on
        rest = await run(turn)
        assert ended(rest).message.state == MessageState.COMPLETE
        assert ended(await run(service.send(OWNER, busy.id, "next"))).error is None
        stopped = service.send(OWNER, busy.id, "to be stopped")
        await anext(stopped)
        await stopped.aclose()  # a stopped turn gives the conversation back too
        assert ended(await run(service.regenerate(OWNER, busy.id))).error is None
        roles = [m.role for m in await service.messages(OWNER, busy.id)]
        assert roles == ["user", "assistant"] * 3


async def test_long_answers_are_checkpointed_while_streaming(store: Store) -> None:
    fake = FakeEngine([Reply(["t"], ["word "] * 30, interval=0.02)])
    async with external_service(fake, store, checkpoint_seconds=0.1) as service:
        conversation = await service.new_conversation(OWNER)
        seen_streaming: list[MessageRecord] = []
        async for event in service.send(OWNER, conversation.id, "go"):
            stored = store.messages(OWNER, conversation.id)
            if isinstance(event, Piece) and len(stored) == 2:
                seen_streaming.append(stored[1])
        assert seen_streaming, "no checkpoint was written while the answer streamed"
        assert seen_streaming[0].state == MessageState.STREAMING
        final = store.messages(OWNER, conversation.id)
        assert len(final) == 2  # the checkpoint row became the answer: not a second row
        assert final[1].state == MessageState.COMPLETE
        assert final[1].content == "word " * 30


async def test_persona_and_math_reach_the_engine_inside_the_user_turn(store: Store) -> None:
    fake = FakeEngine()
    async with external_service(fake, store) as service:
        conversation = await service.new_conversation(OWNER)
        await run(service.send(OWNER, conversation.id, "1+1?", Sampling(math=True, persona="You are a tutor.")))
    request = fake.requests[-1]
    assert request["messages"] == [
        {
            "role": "user",
            "content": "You are a tutor.\n\n1+1?\n\nPlease reason step by step, and put your final answer within "
            "\\boxed{}.",
        }
    ]
    assert (request["temperature"], request["top_p"]) == (0.6, 0.95)


async def test_regenerate_and_edit_show_new_versions_of_the_last_turn(live_service: ChatService) -> None:
    conversation = await live_service.new_conversation(OWNER)
    await run(live_service.send(OWNER, conversation.id, "first"))
    await run(live_service.regenerate(OWNER, conversation.id))
    assert [m.role for m in await live_service.messages(OWNER, conversation.id)] == ["user", "assistant"]
    await run(live_service.edit_last(OWNER, conversation.id, "edited"))
    stored = await live_service.messages(OWNER, conversation.id)
    assert [(m.role, m.content) for m in stored] == [("user", "edited"), ("assistant", SCRIPT_ANSWER)]


def test_history_sent_to_the_model_has_answers_only() -> None:
    def record(role: str, content: str, reasoning: str = "", state: str = "complete") -> MessageRecord:
        fields = dict.fromkeys(MessageRecord.__slots__)
        fields.update(id=1, conversation_id="c", role=role, content=content, reasoning=reasoning, state=state)
        fields.update(math=False, created_at=0.0)
        return MessageRecord(**fields)  # type: ignore[arg-type]

    history = [
        record("user", "q1"),
        record("assistant", "a1", reasoning="secret thoughts"),
        record("user", "q2"),
        record("assistant", "", state="error"),
    ]
    assert model_messages(history) == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"temperature": 2.5}, "between 0 and 2"),
        ({"top_p": 0}, "above 0"),
        ({"max_tokens": 0}, "at least 1"),
        ({"persona": "x" * 5000}, "persona"),
        ({"thinking_budget": 0}, "thinking budget must be between 1"),
        ({"thinking_budget": 10**7}, "thinking budget must be between 1"),
    ],
)
def test_out_of_range_sampling_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Sampling(**values)  # type: ignore[arg-type]


async def test_preferences_are_kept_per_owner_as_one_sampling_and_how_the_thinking_shows(store: Store) -> None:
    service = ChatService(Engine(make_settings()), ModelClient("http://127.0.0.1:9/v1"), store)
    assert await service.preferences(OWNER) == Preferences()
    mine = Preferences(
        Sampling(temperature=0.7, top_p=0.9, max_tokens=100, math=True, persona="p", thinking_budget=256), False
    )
    assert await service.save_preferences(OWNER, mine) == mine
    assert await service.preferences(OWNER) == mine
    assert await service.preferences("someone else") == Preferences()
    await service.save_preferences(OWNER, Preferences())
    assert await service.preferences(OWNER) == Preferences()


def test_an_answer_stored_whole_at_once_has_no_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chat's figure follows the evaluation's rule (`decode_rate`): no rate over a near-zero interval."""
    monkeypatch.setattr(time, "monotonic", lambda: 100.0)  # every piece read in the same instant
    draft = Draft()
    for text in ["Let", " me", " think"]:
        draft.add(Piece("reasoning", text))
    draft.add(Piece("content", "4"))
    assert draft.fields()["tokens_per_s"] is None
    assert draft.fields()["answer_tokens"] == 1


def test_an_answer_written_over_time_has_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(100))
    monkeypatch.setattr(time, "monotonic", lambda: next(clock) * 0.01)  # each read 10 ms after the last
    draft = Draft()
    for text in ["Let", " me", " think"]:
        draft.add(Piece("reasoning", text))
    draft.add(Piece("content", "4"))
    rate = draft.fields()["tokens_per_s"]
    assert rate is not None and 0 < rate <= 100  # a piece per 10 ms at most


async def test_an_earlier_message_edited_goes_on_from_there(store: Store) -> None:
    fake = FakeEngine(
        [Reply(["t"], ["One."]), Reply(["t"], ["Two."]), Reply(["t"], ["Three."]), Reply(["t"], ["New."])]
    )
    async with external_service(fake, store) as service:
        conversation = await service.new_conversation(OWNER)
        for text in ("first", "second", "third"):
            await run(service.send(OWNER, conversation.id, text))
        second = next(m for m in await service.messages(OWNER, conversation.id) if m.content == "second")
        history = await service.begin(OWNER, conversation.id, "second, edited", replacing=second.id)
        await run(service.answer(OWNER, conversation.id, history))
        stored = await service.messages(OWNER, conversation.id)
        assert [m.content for m in stored] == ["first", "One.", "second, edited", "New."]
        # The model was asked with the history up to the edit, not what came after it.
        asked: Any = fake.requests[-1]["messages"]
        assert [m["content"] for m in asked] == ["first", "One.", "second, edited"]
        answer = stored[1]
        with pytest.raises(InvalidInput, match="Only your own messages"):  # an answer is not the user's to edit
            await service.begin(OWNER, conversation.id, "x", replacing=answer.id)
        with pytest.raises(NotFound):  # an id not in it
            await service.begin(OWNER, conversation.id, "x", replacing=10**9)
        assert [m.content for m in await service.messages(OWNER, conversation.id)] == [m.content for m in stored]


async def test_an_owners_language_is_saved_apart_and_only_en_or_zh(store: Store) -> None:
    service = ChatService(Engine(make_settings()), ModelClient("http://127.0.0.1:9/v1"), store)
    assert (await service.preferences(OWNER)).language == ""  # not chosen
    assert await service.save_language(OWNER, "zh") == Preferences(language="zh")  # the rest as recommended
    mine = Preferences(Sampling(temperature=0.7), show_reasoning=False)
    assert await service.save_preferences(OWNER, mine) == Preferences(mine.sampling, False, "zh")  # language kept
    assert await service.save_language(OWNER, "en") == Preferences(mine.sampling, False, "en")  # settings kept
    for wrong in ("fr", "", "EN", None, 1):
        with pytest.raises(InvalidInput, match="'en' or 'zh'"):
            await service.save_language(OWNER, wrong)
    assert await service.preferences(OWNER) == Preferences(mine.sampling, False, "en")
