"""Running the questions: each streamed and timed, k at once, through `ModelClient` or a twin of it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from webapp.chat.draft import decode_rate
from webapp.errors import AppError, InvalidInput
from webapp.llm.client import StreamEnd, StreamEvent, TokenCount
from webapp.llm.sampling import RECOMMENDED, Sampling
from webapp.ops.evaluation.answers import answer_of
from webapp.ops.evaluation.questions import Question
from webapp.ops.evaluation.summary import RunResult


class Backend(Protocol):
    """What the runner needs of the engine: a `ModelClient`, or anything that streams like one."""

    async def acount_tokens(
        self, messages: Iterable[Mapping[str, object]], *, math: bool = False, prefix: str | None = None
    ) -> TokenCount | None: ...

    def astream(
        self,
        messages: Iterable[Mapping[str, object]],
        sampling: Sampling = ...,
        *,
        pace: float | None = ...,
    ) -> AsyncIterator[StreamEvent]: ...


async def run_once(client: Backend, question: Question, run: int, *, sampling: Sampling) -> RunResult:
    """One streamed answer, timed; an engine error ends this run only, and is recorded on it."""
    started = time.perf_counter()
    first: float | None = None
    last: float | None = None
    first_tokens = 0  # came with the first token's arrival
    deltas = 0
    answer: list[str] = []
    end = StreamEnd(None)
    messages = [{"role": "user", "content": question.text}]
    try:
        # pace=0: timings to the delta, not gathered for display
        stream = client.astream(messages, replace(sampling, math=question.math), pace=0)
        async for event in stream:
            if isinstance(event, StreamEnd):
                end = event
                continue
            last = time.perf_counter()
            first = first if first is not None else last
            deltas += event.tokens
            first_tokens += event.tokens if last == first else 0
            if event.kind == "content":
                answer.append(event.text)
    except AppError as exc:
        return RunResult(question.id, run, error=exc.message)
    finished = time.perf_counter()
    # vLLM reports the exact count in the stream's usage; a server that does not is counted by deltas.
    tokens = end.completion_tokens if end.completion_tokens is not None else deltas
    return RunResult(
        question=question.id,
        run=run,
        ttft_ms=(first - started) * 1000 if first is not None else None,
        latency_s=finished - started,
        completion_tokens=tokens,
        tokens_per_s=decode_rate(tokens, first_tokens, first, last),
        finish_reason=end.finish_reason,
        answer=answer_of("".join(answer)),
    )


async def run_evaluation(
    client: Backend,
    questions: Sequence[Question],
    *,
    runs: int,
    concurrency: int,
    sampling: Sampling = RECOMMENDED,
    on_run: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Each question `runs` times, at most `concurrency` requests at once; `on_run` hears of each run as it ends.

    `sampling`'s math is each question's own.

    Raises the engine's error when it cannot be reached at all (before any run starts).
    """
    if runs < 1 or concurrency < 1:
        raise InvalidInput(
            f"Runs and concurrency must be at least 1 (got {runs} and {concurrency}).", code="eval_numbers"
        )
    if not questions or not all(q.text.strip() for q in questions):
        raise InvalidInput(
            "There is no question to run.", hint="Type a prompt or choose the built-in set.", code="eval_no_question"
        )
    # Ask the engine once before the runs: an unreachable engine fails here, at once, and the
    # client's first-use discovery (model name, the template's thinking tag) stays out of the timings.
    first = questions[0]
    await client.acount_tokens([{"role": "user", "content": first.text}], math=first.math)
    gate = asyncio.Semaphore(concurrency)

    async def one(question: Question, run: int) -> RunResult:
        async with gate:
            result = await run_once(client, question, run, sampling=sampling)
        if on_run is not None:
            on_run(result)
        return result

    return list(await asyncio.gather(*(one(q, i) for q in questions for i in range(1, runs + 1))))
