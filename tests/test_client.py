"""The model client against the real vLLM server (and fakes for what it cannot do)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import SERVED_NAME, LiveApp, free_port
from webapp.chat.context import prompt_token_bound
from webapp.engine.tiny_model import ANSWER_PIECES, REASONING_PIECES, SCRIPT_ANSWER, SCRIPT_REASONING
from webapp.errors import (
    AppError,
    ContextTooLong,
    EngineError,
    EngineNotReady,
    EngineTimeout,
    EngineUnreachable,
    ModelNotFound,
)
from webapp.llm import client as client_module
from webapp.llm.client import ModelClient, StreamEnd, chat_body
from webapp.llm.failures import engine_error
from webapp.llm.pacer import FULL_READ, MOST_STREAM_PACE, STREAM_PACE, Pacer, until_tick
from webapp.llm.prompt import r1_messages
from webapp.llm.reasoning import Piece
from webapp.llm.sampling import Sampling
from webapp.llm.stream import ServerSentData, StreamFailed, StreamParser
from webapp.llm.transport import KEEPALIVE, EngineTransport, Reading

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
    events = [e async for e in client.astream(HELLO, Sampling(temperature=2.0, top_p=1.0))]
    reasoning, answer, end = collect(events)
    assert (reasoning, answer, end.finish_reason) == (SCRIPT_REASONING, SCRIPT_ANSWER, "stop")


class RecordingPacer(Pacer):
    """The client's own pacer, noting each rest: the seconds asked, when it ends on the loop's clock,
    and whether the engine connection was left unread meanwhile."""

    def __init__(self, **limits: float) -> None:
        super().__init__(**limits)
        self.asked: list[float] = []
        self.wakes: list[float] = []
        self.paused: list[bool] = []

    async def rest(self, connection: Reading | None, seconds: float) -> None:
        self.asked.append(seconds)
        await super().rest(connection, seconds)

    async def sleep(self, until: float, connection: Reading | None) -> None:
        self.wakes.append(until)
        self.paused.append(connection is not None and not connection.is_reading())
        await super().sleep(until, connection)


async def stream_from(reply: Reply, pace: float, pacer: Pacer | None = None) -> list[Piece]:
    """The pieces of one answer from a fake engine sending `reply`."""
    with serve_fake(FakeEngine([reply])) as url:
        client = ModelClient(url, model="m", pacer=pacer)
        events = [e async for e in client.astream(HELLO, pace=pace)]
        await client.aclose()
    return [e for e in events if isinstance(e, Piece)]


async def test_a_stream_faster_than_the_pace_is_read_without_resting() -> None:
    burst = [f"token {i:05d} of a fast stream; " for i in range(3000)]  # ~400 KB of events at once
    pacer = RecordingPacer()
    pieces = await stream_from(Reply([], burst), pace=0.5, pacer=pacer)
    assert "".join(p.text for p in pieces) == "".join(burst)
    assert sum(p.tokens for p in pieces) == len(burst)
    assert len(pacer.asked) <= 5  # only where the reader caught up with the stream, not once per 16 KiB read (~25)


async def test_a_finished_stream_ends_without_a_last_rest() -> None:
    # "t0" 0.2 s in, then "a0", the finish and [DONE] 0.2 s later: all there when the first rest ends.
    pacer = RecordingPacer()
    pieces = await stream_from(Reply(["t0"], ["a0"], interval=0.2), pace=0.5, pacer=pacer)
    assert pieces == [Piece("reasoning", "t0"), Piece("content", "a0")]
    assert pacer.asked == [0.5]  # after "t0" only: the answer had finished when "a0" came


async def test_an_unpaced_stream_comes_piece_by_piece() -> None:
    thinking, answer = [f"t{i} " for i in range(6)], [f"a{i} " for i in range(4)]
    pacer = RecordingPacer()
    pieces = await stream_from(Reply(thinking, answer, interval=0.1), pace=0, pacer=pacer)  # a fixed-rate stream
    assert "".join(p.text for p in pieces) == "".join(thinking + answer)
    assert len(pieces) >= 8  # not one lump (two deltas may share a read on a busy machine)
    assert pacer.asked == []


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
    pacer = Pacer()
    paces = {}
    for streams in (1, 32, 48, 64, 10_000):
        pacer.streams = streams
        paces[streams] = pacer.pace()
    assert paces[1] == paces[32] == STREAM_PACE
    assert STREAM_PACE < paces[48] < MOST_STREAM_PACE
    assert paces[64] == paces[10_000] == MOST_STREAM_PACE


async def test_a_stream_paces_itself_by_how_many_its_client_is_reading() -> None:
    pacer = RecordingPacer(pieces_per_second=20)  # two streams: 0.1 s rests
    thinking, answer = [f"t{i} " for i in range(12)], [f"a{i} " for i in range(6)]
    with serve_fake(FakeEngine([Reply(thinking, answer, interval=0.02)])) as url:
        client = ModelClient(url, model="m", pacer=pacer)

        async def one() -> str:
            return "".join([e.text async for e in client.astream(HELLO) if isinstance(e, Piece)])

        assert await one() == "".join(thinking + answer)
        alone, pacer.asked = pacer.asked, []
        assert list(await asyncio.gather(one(), one())) == ["".join(thinking + answer)] * 2
        together = pacer.asked
        await client.aclose()
    assert alone and set(alone) == {STREAM_PACE}
    assert MOST_STREAM_PACE in together  # while both were being read
    assert pacer.streams == 0


def test_a_rest_ends_on_the_first_tick_of_its_length_half_a_rest_away() -> None:
    for now in (0.0, 0.01, 0.049, 0.05, 0.051, 0.099, 12345.678, 98765.4321):
        delay = until_tick(now, 0.1)
        assert 0.05 - 1e-9 <= delay < 0.15 + 1e-9
        ticks = (now + delay) / 0.1
        assert abs(ticks - round(ticks)) < 1e-6


async def test_streams_resting_alike_wake_together() -> None:
    pacer = RecordingPacer()
    thinking, answer = [f"t{i} " for i in range(30)], [f"a{i} " for i in range(10)]
    with serve_fake(FakeEngine([Reply(thinking, answer, interval=0.01)])) as url:
        client = ModelClient(url, model="m", pacer=pacer)

        async def one(after: float) -> str:
            await asyncio.sleep(after)  # the streams begin out of step
            return "".join([e.text async for e in client.astream(HELLO, pace=0.1) if isinstance(e, Piece)])

        assert list(await asyncio.gather(one(0), one(0.037))) == ["".join(thinking + answer)] * 2
        await client.aclose()
    assert len(pacer.wakes) >= 4
    ticks = [wake / 0.1 for wake in pacer.wakes]
    assert all(abs(tick - round(tick)) < 1e-6 for tick in ticks)  # on the same clock's tenths
    assert len({round(tick) for tick in ticks}) < len(ticks)  # and some rests of both ended at once


async def test_a_resting_stream_leaves_its_connection_unread() -> None:
    pacer = RecordingPacer()
    thinking, answer = [f"t{i} " for i in range(10)], [f"a{i} " for i in range(10)]
    with serve_fake(FakeEngine([Reply(thinking, answer, interval=0.01)])) as url:
        client = ModelClient(url, model="m", pacer=pacer)
        for _ in range(2):  # the second stream reuses the connection: reading again after the rests
            pieces = [e async for e in client.astream(HELLO, pace=0.05) if isinstance(e, Piece)]
            assert "".join(p.text for p in pieces) == "".join(thinking + answer)
        await client.aclose()
    assert len(pacer.paused) >= 4
    assert all(pacer.paused)  # the tokens waited in the kernel, not in the HTTP client's buffer


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
        assert headers["user-agent"] == "deepseek-r1-chat"  # no library, Python or OS versions
        assert not [name for name in headers if name.startswith("x-stainless-")]


async def test_an_idle_connection_is_given_up_before_the_engine_would_close_it() -> None:
    assert KEEPALIVE < 5  # vLLM's server closes a connection idle for 5 s
    fake = FakeEngine()
    with serve_fake(fake) as url:
        http = httpx2.AsyncClient(transport=EngineTransport(keepalive=0.3))
        for pause in (0, 0.05, 0.6):
            await asyncio.sleep(pause)  # the point: the connection idles this long
            assert (await http.get(f"{url}/models")).status_code == 200
        await http.aclose()
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


@pytest.mark.parametrize("budget", [1, 3, 5])
async def test_a_thinking_budget_of_n_gives_at_most_n_thinking_tokens_and_then_the_answer(
    client: ModelClient, budget: int
) -> None:
    events = [e async for e in client.astream(HELLO, Sampling(thinking_budget=budget))]
    reasoning, answer, end = collect(events)
    # The engine closes the thought: the script's pieces are one token each, so the thought is
    # the first few of them, no more than the budget, and the whole answer follows it.
    thoughts = ["".join(REASONING_PIECES[:n]) for n in range(budget + 1)]
    assert (reasoning, answer, end.finish_reason) in [(thought, SCRIPT_ANSWER, "stop") for thought in thoughts]


async def test_without_a_thinking_budget_the_engine_is_not_told_one(client: ModelClient) -> None:
    assert "thinking_token_budget" not in chat_body(HELLO, Sampling(), model=SERVED_NAME)
    assert chat_body(HELLO, Sampling(thinking_budget=7), model=SERVED_NAME)["thinking_token_budget"] == 8
    assert (
        chat_body(HELLO, Sampling(thinking_budget=7), model=SERVED_NAME, prefix="<think>\n")["thinking_token_budget"]
        == 8
    )  # the app's own opening of the thought, where the template has none
    assert "thinking_token_budget" not in chat_body(
        HELLO, Sampling(thinking_budget=7), model=SERVED_NAME, prefix="<think>\nSo far"
    )  # a continued thought is not capped
    reasoning, answer, _ = collect([e async for e in client.astream(HELLO, Sampling(thinking_budget=100))])
    assert (reasoning, answer) == (SCRIPT_REASONING, SCRIPT_ANSWER)  # a budget the thought fits in cuts nothing


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
    # Nothing listens there: unreachable at once, not a timeout.
    client = ModelClient(f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(EngineUnreachable, match="Nothing answers"):
        await client.acount_tokens(HELLO)
    client._template_opens_thinking = True  # straight to the streaming request
    caplog.clear()
    with (
        caplog.at_level("WARNING", logger="webapp.llm.failures"),
        pytest.raises(EngineUnreachable, match="Nothing answers"),
    ):
        async for _ in client.astream(HELLO):
            pass
    await client.aclose()
    # The log says what the library said, beside the user's plain message.
    [said] = [r.getMessage() for r in caplog.records if r.name == "webapp.llm.failures"]
    assert "Nothing answers" in said
    assert "APIConnectionError: Connection error. <- ConnectError" in said  # the openai client's, and why
    assert "ClientConnectorError: Cannot connect" in said


async def test_the_engine_is_asked_through_the_openai_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # The architecture's rule: the app talks to the engine with the `openai` SDK's clients (the
    # async one and the sync one), so what the one translation receives is the SDK's typed errors.
    received: list[BaseException] = []

    def spy(exc: BaseException, *, base_url: str, model: str | None = None) -> AppError:
        received.append(exc)
        return engine_error(exc, base_url=base_url, model=model)

    monkeypatch.setattr(client_module, "engine_error", spy)
    fake = FakeEngine()
    with serve_fake(fake) as url:
        client = ModelClient(url.removesuffix("/v1") + "/v2")  # every route there answers 404
        with pytest.raises(ModelNotFound):
            await client.amodel_name()  # GET /v2/models
        with pytest.raises(ModelNotFound):
            await asyncio.to_thread(client.model_name)
        client._model, client._template_opens_thinking = "m", True  # straight to the streamed chat
        with pytest.raises(ModelNotFound, match="'m': not found"):
            async for _ in client.astream(HELLO):
                pass
        with pytest.raises(ModelNotFound, match="'m': not found"):
            await asyncio.to_thread(lambda: list(client.stream_chat(HELLO)))
        await client.aclose()
    assert fake.posted == ["/v2/chat/completions"] * 2
    assert [type(exc) for exc in received] == [openai.NotFoundError] * 4
    assert all(isinstance(exc, openai.APIStatusError) and exc.body == {"message": "not found"} for exc in received)


async def test_a_silent_server_times_out() -> None:
    with serve_fake(FakeEngine([Reply(silent=True)])) as url:
        client = ModelClient(url, model="m", timeout=0.5)
        with pytest.raises(EngineTimeout):
            async for _ in client.astream(HELLO):
                pass
        await client.aclose()


async def test_a_stream_that_dies_midway_keeps_what_came_and_raises() -> None:
    with serve_fake(FakeEngine([Reply(["half a thought"], ["half an ans"], die=True)])) as url:
        client = ModelClient(url, model="m")
        received: list[Piece] = []
        with pytest.raises(EngineError, match="closed the stream"):
            async for event in client.astream(HELLO):
                assert isinstance(event, Piece)
                received.append(event)
        await client.aclose()
    assert received == [Piece("reasoning", "half a thought"), Piece("content", "half an ans")]


async def test_the_synchronous_stream_is_read_by_the_same_parser() -> None:
    with serve_fake(FakeEngine([Reply(["half a thought"], ["half an ans"], die=True)])) as url:
        client = ModelClient(url, model="m")
        received: list[Piece | StreamEnd] = []

        def read() -> None:
            for event in client.stream_chat(HELLO):
                received.append(event)

        with pytest.raises(EngineError, match="closed the stream"):
            await asyncio.to_thread(read)
        await client.aclose()
    assert received == [Piece("reasoning", "half a thought"), Piece("content", "half an ans")]


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)


def delta(finish: str | None = None, **fields: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def test_the_parser_splits_thinking_and_answer_and_keeps_the_end() -> None:
    parser = StreamParser()
    assert parser.feed(sse(delta(reasoning="hm "), delta(reasoning="so"))) == [Piece("reasoning", "hm so", 2)]
    assert parser.feed(sse(delta(content="4"))[:9]) == []  # half a line waits for the rest
    assert parser.feed(sse(delta(content="4"))[9:] + sse(delta("stop"))) == [Piece("content", "4")]
    assert parser.finished
    assert (
        parser.feed(sse({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}) + b"data: [DONE]\n\n")
        == []
    )
    assert parser.close() == []
    assert parser.end == StreamEnd("stop", 5, 3)


def test_the_parser_gives_only_answer_when_told_and_fails_on_a_cut_or_failed_stream() -> None:
    answer_only = StreamParser(answer_only=True)
    assert answer_only.feed(sse(delta(reasoning="goes on"))) == [Piece("content", "goes on")]
    with pytest.raises(StreamFailed, match="before the answer was finished"):
        answer_only.close()
    with pytest.raises(StreamFailed, match="stream failed: out of memory"):
        StreamParser().feed(sse(delta(content="a"), {"error": "out of memory"}))


CHAT = httpx2.Request("POST", "http://e/v1/chat/completions")
# vLLM 0.32's answer to `thinking_token_budget` when it runs without --reasoning-parser (in the stream, to a streamed request).
NO_REASONING_CONFIG = (
    b'{"error": {"message": "thinking_token_budget is set but reasoning_config is not configured. Please set'
    b' --reasoning-parser and/or --reasoning-config to use thinking_token_budget.", "type": "BadRequestError",'
    b' "param": null, "code": 400}}'
)


def refused(status: int, body: bytes) -> openai.APIStatusError:
    """The openai client's error for an engine's answer of `status` with `body`, made by the SDK itself."""
    sdk = openai.OpenAI(base_url="http://e/v1", api_key="k")
    return sdk._make_status_error_from_response(httpx2.Response(status, content=body, request=CHAT))


@pytest.mark.parametrize(
    ("failure", "error", "said"),
    [
        (refused(400, b'{"error": {"message": "maximum context length is 512 tokens"}}'), ContextTooLong, "512"),
        (refused(404, b'{"message": "The model `x` does not exist."}'), ModelNotFound, "does not exist"),
        (refused(400, NO_REASONING_CONFIG), EngineError, "without a reasoning parser"),
        (StreamFailed(f"The engine stream failed: {json.loads(NO_REASONING_CONFIG)['error']}"), EngineError, "parser"),
        (refused(401, b'{"error": "Unauthorized"}'), EngineError, "refused the API key"),
        (refused(503, b"loading"), EngineNotReady, "not ready: loading"),
        (refused(500, b""), EngineError, "answered 500: HTTP 500"),
        (StreamFailed("The engine closed the stream early."), EngineError, "closed the stream"),
        (openai.APIConnectionError(request=CHAT), EngineUnreachable, "Nothing answers at http://e/v1"),
        (openai.APITimeoutError(request=CHAT), EngineTimeout, "did not answer in time"),
        (httpx2.RemoteProtocolError("Server disconnected"), EngineUnreachable, "Nothing answers"),  # mid-stream
        (httpx2.ReadTimeout("slow"), EngineTimeout, "did not answer in time"),
        (ConnectionRefusedError(111, "refused"), EngineUnreachable, "Nothing answers"),
        (TimeoutError(), EngineTimeout, "did not answer in time"),
        (ValueError("odd"), EngineError, "ValueError: odd"),
    ],
)
def test_every_failure_becomes_one_of_the_apps_errors(failure: Exception, error: type[AppError], said: str) -> None:
    translated = engine_error(failure, base_url="http://e/v1", model="m")
    assert type(translated) is error
    assert said in translated.message
    assert engine_error(translated, base_url="http://e/v1") is translated  # once: the app's own pass through


async def test_a_stream_rests_only_after_a_short_read_of_an_unfinished_answer() -> None:
    pacer = RecordingPacer()
    await pacer.after_read(None, size=FULL_READ, finished=False)  # more is waiting
    await pacer.after_read(None, size=10, finished=True)  # only the usage is left
    await pacer.after_read(None, size=10, finished=False, pace=0)  # unpaced
    assert pacer.asked == []
    await pacer.after_read(None, size=10, finished=False)
    await pacer.after_read(None, size=10, finished=False, pace=0.01)
    assert pacer.asked == [STREAM_PACE, 0.01]


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
