"""The model client against the real vLLM server (and fakes for what it cannot do)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import httpx2
import pytest

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import SERVED_NAME, LiveApp, free_port
from webapp.chat.context import prompt_token_bound
from webapp.engine.tiny_model import ANSWER_PIECES, REASONING_PIECES, SCRIPT_ANSWER, SCRIPT_REASONING
from webapp.errors import ContextTooLong, EngineError, EngineTimeout, EngineUnreachable, ModelNotFound
from webapp.llm import client as client_module
from webapp.llm.client import MOST_STREAM_PACE, STREAM_PACE, ModelClient, ServerSentData, StreamEnd, stream_pace
from webapp.llm.prompt import r1_messages
from webapp.llm.reasoning import Piece
from webapp.llm.transport import KEEPALIVE, EngineTransport, rest, until_tick

HELLO = [{"role": "user", "content": "你好"}]
SCRIPT_TOKENS = len(REASONING_PIECES) + 1 + len(ANSWER_PIECES) + 1  # pieces, </think>, EOS


@pytest.fixture
async def client(live_app: LiveApp) -> AsyncIterator[ModelClient]:
    client = ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model=SERVED_NAME)
    yield client
    await client.aclose()


def collect(events: list[Piece | StreamEnd]) -> tuple[str, str, StreamEnd]:
    pieces = [e for e in events if isinstance(e, Piece)]
    ends = [e for e in events if isinstance(e, StreamEnd)]
    assert len(ends) == 1
    assert events[-1] is ends[0]
    return (
        "".join(p.text for p in pieces if p.kind == "reasoning"),
        "".join(p.text for p in pieces if p.kind == "content"),
        ends[0],
    )


def test_stream_chat_returns_the_script_split_exactly(client: ModelClient) -> None:
    reasoning, answer, end = collect(list(client.stream_chat(HELLO)))
    assert reasoning == SCRIPT_REASONING
    assert answer == SCRIPT_ANSWER
    assert end.finish_reason == "stop"
    assert end.completion_tokens == SCRIPT_TOKENS


async def test_async_stream_is_the_same_even_at_high_temperature(client: ModelClient) -> None:
    events = [e async for e in client.astream(HELLO, temperature=2.0, top_p=1.0)]
    reasoning, answer, end = collect(events)
    assert (reasoning, answer, end.finish_reason) == (SCRIPT_REASONING, SCRIPT_ANSWER, "stop")


@pytest.fixture
def rests(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rests the client's streams take, as they are taken (asyncio.sleep is everyone's: only
    the calls from `transport.rest` count)."""
    taken: list[float] = []
    sleep = asyncio.sleep

    def counted(delay: float, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        frame = sys._getframe(1)
        if frame.f_code is rest.__code__:
            taken.append(frame.f_locals["seconds"])  # the rest asked for (it ends on the next tick)
        return sleep(delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", counted)
    return taken


async def stream_from(reply: Reply, pace: float) -> list[Piece]:
    """The pieces of one answer from a fake engine sending `reply`."""
    with serve_fake(FakeEngine([reply])) as url:
        client = ModelClient(url, model="m")
        events = [e async for e in client.astream(HELLO, pace=pace)]
        await client.aclose()
    return [e for e in events if isinstance(e, Piece)]


async def test_a_stream_faster_than_the_pace_is_read_without_resting(rests: list[float]) -> None:
    burst = [f"token {i:05d} of a fast stream; " for i in range(3000)]  # ~400 KB of events at once
    pieces = await stream_from(Reply([], burst), pace=0.5)
    assert "".join(p.text for p in pieces) == "".join(burst)
    assert sum(p.tokens for p in pieces) == len(burst)
    assert len(rests) <= 5  # only where the reader caught up with the stream, not once per 16 KiB read (~25)


async def test_a_finished_stream_ends_without_a_last_rest(rests: list[float]) -> None:
    # "t0" 0.2 s in, then "a0", the finish and [DONE] 0.2 s later: all there when the first rest ends.
    pieces = await stream_from(Reply(["t0"], ["a0"], interval=0.2), pace=0.5)
    assert pieces == [Piece("reasoning", "t0"), Piece("content", "a0")]
    assert rests == [0.5]  # after "t0" only: the answer had finished when "a0" came


async def test_an_unpaced_stream_comes_piece_by_piece() -> None:
    thinking, answer = [f"t{i} " for i in range(6)], [f"a{i} " for i in range(4)]
    pieces = await stream_from(Reply(thinking, answer, interval=0.1), pace=0)  # a fixed-rate stream
    assert "".join(p.text for p in pieces) == "".join(thinking + answer)
    assert len(pieces) >= 8  # not one lump (two deltas may share a read on a busy machine)


async def test_a_paced_stream_gathers_what_came_while_it_rested_losing_nothing() -> None:
    thinking, answer = [f"t{i} " for i in range(20)], [f"a{i} " for i in range(10)]
    pieces = await stream_from(Reply(thinking, answer, interval=0.01), pace=0.1)  # a fixed-rate stream
    assert "".join(p.text for p in pieces if p.kind == "reasoning") == "".join(thinking)
    assert "".join(p.text for p in pieces if p.kind == "content") == "".join(answer)
    assert pieces[0] == Piece("reasoning", "t0 ", 1)  # the first piece comes at once, alone
    assert len(pieces) <= 8  # ~0.3 s of stream in 0.1 s rests, instead of 30 pieces
    assert sum(p.tokens for p in pieces if p.kind == "reasoning") == 20  # each delta still counted
    assert sum(p.tokens for p in pieces if p.kind == "content") == 10


def test_streams_rest_longer_once_they_are_many() -> None:
    assert stream_pace(1) == stream_pace(32) == STREAM_PACE
    assert STREAM_PACE < stream_pace(48) < MOST_STREAM_PACE
    assert stream_pace(64) == stream_pace(10_000) == MOST_STREAM_PACE


async def test_a_stream_paces_itself_by_how_many_its_client_is_reading(
    rests: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "PIECES_PER_SECOND", 20)  # two streams: 0.1 s rests
    thinking, answer = [f"t{i} " for i in range(12)], [f"a{i} " for i in range(6)]
    with serve_fake(FakeEngine([Reply(thinking, answer, interval=0.02)])) as url:
        client = ModelClient(url, model="m")

        async def one() -> str:
            return "".join([e.text async for e in client.astream(HELLO) if isinstance(e, Piece)])

        assert await one() == "".join(thinking + answer)
        alone, rests[:] = list(rests), []
        assert list(await asyncio.gather(one(), one())) == ["".join(thinking + answer)] * 2
        together = list(rests)
        await client.aclose()
    assert alone and set(alone) == {STREAM_PACE}
    assert MOST_STREAM_PACE in together  # while both were being read
    assert client.streams == 0


def test_a_rest_ends_on_the_first_tick_of_its_length_half_a_rest_away() -> None:
    for now in (0.0, 0.01, 0.049, 0.05, 0.051, 0.099, 12345.678, 98765.4321):
        delay = until_tick(now, 0.1)
        assert 0.05 - 1e-9 <= delay < 0.15 + 1e-9
        ticks = (now + delay) / 0.1
        assert abs(ticks - round(ticks)) < 1e-6


async def test_streams_resting_alike_wake_together(monkeypatch: pytest.MonkeyPatch) -> None:
    wakes: list[float] = []  # when each rest of either stream was set to end, on the loop's clock
    sleep = asyncio.sleep

    def watched(delay: float, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        frame = sys._getframe(1)
        if frame.f_code is rest.__code__:
            wakes.append(frame.f_locals["now"] + delay)
        return sleep(delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", watched)
    thinking, answer = [f"t{i} " for i in range(30)], [f"a{i} " for i in range(10)]
    with serve_fake(FakeEngine([Reply(thinking, answer, interval=0.01)])) as url:
        client = ModelClient(url, model="m")

        async def one(after: float) -> str:
            await sleep(after)  # the streams begin out of step
            return "".join([e.text async for e in client.astream(HELLO, pace=0.1) if isinstance(e, Piece)])

        assert list(await asyncio.gather(one(0), one(0.037))) == ["".join(thinking + answer)] * 2
        await client.aclose()
    assert len(wakes) >= 4
    ticks = [wake / 0.1 for wake in wakes]
    assert all(abs(tick - round(tick)) < 1e-6 for tick in ticks)  # on the same clock's tenths
    assert len({round(tick) for tick in ticks}) < len(ticks)  # and some rests of both ended at once


async def test_a_resting_stream_leaves_its_connection_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    paused: list[bool] = []  # at each rest: was the engine connection's reading paused?
    sleep = asyncio.sleep

    def watched(seconds: float, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        frame = sys._getframe(1)
        if frame.f_code is rest.__code__:
            connection = frame.f_locals["connection"]
            paused.append(connection is not None and not connection.is_reading())
        return sleep(seconds, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", watched)
    thinking, answer = [f"t{i} " for i in range(10)], [f"a{i} " for i in range(10)]
    with serve_fake(FakeEngine([Reply(thinking, answer, interval=0.01)])) as url:
        client = ModelClient(url, model="m")
        for _ in range(2):  # the second stream reuses the connection: reading again after the rests
            pieces = [e async for e in client.astream(HELLO, pace=0.05) if isinstance(e, Piece)]
            assert "".join(p.text for p in pieces) == "".join(thinking + answer)
        await client.aclose()
    assert len(paused) >= 4
    assert all(paused)  # the tokens waited in the kernel, not in the HTTP client's buffer


async def test_requests_tell_the_engine_nothing_about_this_machine() -> None:
    fake = FakeEngine([Reply(["t"], ["a"])])
    with serve_fake(fake) as url:
        client = ModelClient(url, api_key="secret", model="m")
        assert [e async for e in client.astream(HELLO) if isinstance(e, Piece)]
        await asyncio.to_thread(lambda: list(client.stream_chat(HELLO)))  # the synchronous client too
        await client.aclose()
    assert len(fake.headers) == 2
    for headers in fake.headers:
        assert headers["authorization"] == "Bearer secret"
        assert headers["content-type"] == "application/json"
        told = {name for name in headers if name.startswith("x-stainless-")}
        assert told <= {"x-stainless-raw-response"}  # the SDK's own note to itself, not the machine's


async def test_an_idle_connection_is_given_up_before_the_engine_would_close_it() -> None:
    assert KEEPALIVE < 5  # vLLM's server closes a connection idle for 5 s
    fake = FakeEngine()
    with serve_fake(fake) as url:
        transport = EngineTransport(keepalive=0.3)
        async with httpx2.AsyncClient(transport=transport) as http:
            for pause in (0, 0.05, 0.6):
                await asyncio.sleep(pause)
                assert (await http.get(f"{url}/models")).status_code == 200
        await transport.aclose()
    assert fake.peers[0] == fake.peers[1] != fake.peers[2]  # kept while in use, not after 0.3 s idle


def test_complete_and_simple_chat(client: ModelClient) -> None:
    reply = client.complete(HELLO)
    assert (reply.reasoning, reply.answer, reply.finish_reason) == (SCRIPT_REASONING, SCRIPT_ANSWER, "stop")
    assert client.simple_chat("请用中文介绍一下人工智能的发展历史", "你是一个有帮助的AI助手") == SCRIPT_ANSWER


def test_a_length_cut_answer_says_so(client: ModelClient) -> None:
    reasoning, answer, end = collect(list(client.stream_chat(HELLO, max_tokens=3)))
    assert end.finish_reason == "length"
    assert reasoning == "".join(REASONING_PIECES[:3])
    assert answer == ""


def test_the_served_model_name_is_discovered(live_app: LiveApp) -> None:
    client = ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key)
    assert client.model_name() == SERVED_NAME


async def test_exact_token_count_comes_from_the_engine(client: ModelClient) -> None:
    cost = await client.acount_tokens(HELLO)
    assert cost is not None
    assert cost.max_model_len == 512
    # BOS, <｜User｜>, the text's tokens, <｜Assistant｜>, <think>, "\n"
    assert 6 < cost.count < 20


@pytest.mark.parametrize(
    "messages",
    [
        HELLO,
        [{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 6}],
        [{"role": "user", "content": "请用中文介绍一下人工智能的发展历史，以及它对社会的影响。🤖🚀"}],
        [{"role": "user", "content": "def f(x):\n    return x ** 2  # 𝔸𝔹ℂ \\boxed{42} $\\frac{1}{2}$"}],
        [
            {"role": "system", "content": "你是一个有帮助的AI助手"},
            {"role": "user", "content": "1+1?"},
            {"role": "assistant", "content": "<think>easy</think>2"},
            {"role": "user", "content": "and 2+2?"},
        ],
    ],
    ids=["hello", "english", "chinese-emoji", "code-math", "turns"],
)
async def test_the_size_bound_is_never_below_the_engines_count(
    client: ModelClient, messages: list[dict[str, str]]
) -> None:
    # What lets a turn skip /tokenize: the bound must hold for any text, or a prompt could overflow.
    for math in (False, True):
        cost = await client.acount_tokens(messages, math=math)
        assert cost is not None
        assert prompt_token_bound(r1_messages(messages, math=math)) >= cost.count
    assert client.context_length == 512  # learned from the count


async def test_a_server_without_tokenize_is_asked_once() -> None:
    fake = FakeEngine()
    with serve_fake(fake) as url:
        client = ModelClient(url, model="m")
        assert await client.acount_tokens(HELLO) is None
        assert await client.acount_tokens(HELLO) is None
        await client.aclose()
    assert fake.posted.count("/tokenize") == 1


def test_unknown_model_is_named_in_the_error(live_app: LiveApp) -> None:
    client = ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model="no-such-model")
    with pytest.raises(ModelNotFound, match="no-such-model"):
        client.complete(HELLO)


def test_context_too_long_is_its_own_error(client: ModelClient) -> None:
    long_text = "the quick brown fox " * 400
    with pytest.raises(ContextTooLong, match="context of 512 tokens"):
        client.complete([{"role": "user", "content": long_text}], max_tokens=10)


def test_wrong_api_key_is_explained(live_app: LiveApp) -> None:
    client = ModelClient(live_app.engine.base_url, api_key="wrong", model=SERVED_NAME)
    with pytest.raises(EngineError, match="refused the API key"):
        client.complete(HELLO)


def test_connection_refused_fails_fast() -> None:
    client = ModelClient(f"http://127.0.0.1:{free_port()}/v1", model="m")
    started = time.monotonic()
    with pytest.raises(EngineUnreachable, match="Nothing answers"):
        client.complete(HELLO)
    assert time.monotonic() - started < 5


async def test_a_refused_connection_is_unreachable_not_a_timeout_in_async_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # aiohttp's transport calls a refused connection a connect timeout; the app must not.
    client = ModelClient(f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(EngineUnreachable, match="Nothing answers"):
        await client.acount_tokens(HELLO)
    client._template_opens_thinking = True  # straight to the streaming request
    caplog.clear()
    with (
        caplog.at_level("WARNING", logger="webapp.llm.client"),
        pytest.raises(EngineUnreachable, match="Nothing answers"),
    ):
        async for _ in client.astream(HELLO):
            pass
    await client.aclose()
    # The log says what the library said, beside the user's plain message.
    [said] = [r.getMessage() for r in caplog.records if r.name == "webapp.llm.client"]
    assert "Nothing answers" in said and "ConnectError: Cannot connect" in said


async def test_a_silent_server_times_out() -> None:
    with serve_fake(FakeEngine([Reply(silent=True)])) as url:
        client = ModelClient(url, model="m", timeout=0.5)
        with pytest.raises(EngineTimeout):
            async for _ in client.astream(HELLO):
                pass


async def test_a_stream_that_dies_midway_keeps_what_came_and_raises() -> None:
    with serve_fake(FakeEngine([Reply(["half a thought"], ["half an ans"], die=True)])) as url:
        client = ModelClient(url, model="m")
        received: list[Piece] = []
        with pytest.raises(EngineError, match="closed the stream"):
            async for event in client.astream(HELLO):
                assert isinstance(event, Piece)
                received.append(event)
    assert received == [Piece("reasoning", "half a thought"), Piece("content", "half an ans")]


def test_server_sent_data_reads_chunks_split_anywhere_and_what_only_json_reads() -> None:
    events = ServerSentData()
    stream = b': ping\n\ndata: {"a": "x\\ud83d"}\n\ndata: {"b": [1, 2]}\n\ndata: [DONE]\n\n'
    read = [chunk for cut in range(0, len(stream), 7) for chunk in events.feed(stream[cut : cut + 7])]
    # An escaped lone surrogate (half an emoji) is valid JSON that orjson refuses: read all the same.
    assert read == [{"a": "x\ud83d"}, {"b": [1, 2]}]
    assert ServerSentData().feed(stream) == read  # all in one read, as one array or one by one
    with pytest.raises(json.JSONDecodeError, match="property name"):
        ServerSentData().feed(b"data: {not json}\n\n")
    with pytest.raises(json.JSONDecodeError, match="property name"):
        ServerSentData().feed(b'data: {"a": 1}\n\ndata: {not json}\n\n')
