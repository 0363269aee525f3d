"""Evaluation: answers and statistics (pure), the runner against the real engine and a fake one, the command line."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import SERVED_NAME, LiveApp, free_port, rate_or_too_quick, until
from webapp.chat.draft import decode_rate
from webapp.engine.tiny_model import ANSWER_PIECES, SCRIPT_ANSWER
from webapp.errors import EngineUnreachable, InvalidInput
from webapp.llm.client import ModelClient, StreamEvent, TokenCount
from webapp.llm.prompt import MATH_INSTRUCTION
from webapp.llm.sampling import RECOMMENDED, Sampling
from webapp.ops.evaluation.answers import answer_key, answer_of, extract_boxed, normalise_answer, same_answer
from webapp.ops.evaluation.cli import main
from webapp.ops.evaluation.questions import BUILTIN_MATH, Question
from webapp.ops.evaluation.report import CSV_FIELDS, SUMMARY_HEADERS, csv_rows, summary_rows, write_csv
from webapp.ops.evaluation.runner import run_evaluation
from webapp.ops.evaluation.summary import Figures, RunResult, majority_answer, percentile, summarise

ROOT = Path(__file__).resolve().parent.parent

# -- answers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is \\boxed{4}.", "4"),
        ("first \\boxed{3}, then \\boxed{5}", "5"),  # the last one counts
        ("\\boxed{\\frac{5}{6}}", "\\frac{5}{6}"),  # nested braces
        ("$\\boxed{x^{2}+1}$ done", "x^{2}+1"),
        ("\\boxed {42}", "42"),
        ("\\boxed{7} and an unclosed \\boxed{8", "7"),
        ("no box here", None),
        ("\\boxed{}", ""),
    ],
)
def test_the_last_balanced_boxed_answer_is_extracted(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  42  ", "42"),
        ("42.", "42"),
        ("$60$", "60"),
        ("\\dfrac {5} {6}", "\\frac{5}{6}"),
        ("\\tfrac{1}{2}", "\\frac{1}{2}"),
        ("x = 6", "6"),
        ("5,050", "5050"),
        ("1, 2", "1,2"),
        ("60 \\text{ yuan}", "60 yuan"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("3\\,000", "3000"),
    ],
)
def test_answers_are_normalised(raw: str, normal: str) -> None:
    assert normalise_answer(raw) == normal


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("6", "6.0", True),
        ("6", "x=6", True),
        ("\\frac{5}{6}", "5/6", True),
        ("\\dfrac{10}{12}", "\\frac{5}{6}", True),
        ("-\\frac{1}{2}", "-0.5", True),
        ("0.833", "5/6", False),  # compared exactly, not approximately
        ("5,050", "5050", True),
        ("60 \\text{yuan}", "60  yuan", True),
        ("4", "5", False),
        ("1/0", "1/0", True),  # not a number: compared as text
        (None, None, False),
        ("", "", False),
    ],
)
def test_answers_agree_by_value_or_text(a: str | None, b: str | None, same: bool) -> None:
    assert same_answer(a, b) is same


def test_a_reply_without_a_box_is_compared_by_its_whole_text() -> None:
    assert answer_of("so \\boxed{4}.") == "4"
    assert answer_of("  Hello!\n\nI am   here. ") == "Hello! I am here."
    assert answer_of("   ") is None
    assert answer_key("Hello! I am here.") == answer_key("Hello!  I am here.")


# -- statistics --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7.0], 95, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # order does not matter
        ([1.0, 2.0, 3.0, 4.0], 95, 3.85),  # linear between closest ranks: 3 + 0.85 * (4 - 3)
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        (list(map(float, range(1, 101))), 95, 95.05),
    ],
)
def test_percentiles_interpolate_between_closest_ranks(values: list[float], p: float, expected: float | None) -> None:
    result = percentile(values, p)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_figures_skip_runs_that_measured_nothing() -> None:
    figures = Figures.of([2.0, None, 4.0])
    assert (figures.mean, figures.p50) == (3.0, 3.0)
    assert figures.p95 == pytest.approx(3.9)
    assert Figures.of([None]) == Figures(None, None, None)


def run(question: str, answer: str | None, *, error: str | None = None, latency: float = 1.0) -> RunResult:
    if error is not None:
        return RunResult(question, 0, error=error)
    return RunResult(question, 0, ttft_ms=100.0, latency_s=latency, completion_tokens=10, tokens_per_s=20.0,
                     finish_reason="stop", answer=answer)  # fmt: skip


Q = Question("q", "2+2?", "4")
FREE = Question("f", "Say hi", None, math=False)


@pytest.mark.parametrize(
    ("answers", "agreement", "accuracy", "majority"),
    [
        (["4", "4", "4", "4"], 1.0, 1.0, "4"),
        (["4", "4.0", "5", "5"], 0.5, 0.5, "4"),  # a tie goes to the answer given first
        (["5", "4", "5", "5"], 0.75, 0.25, "5"),
        (["4", "3", "2", "1"], 0.25, 0.25, "4"),
        ([None, None, "4", None], 0.25, 0.25, "4"),  # no answer at all never agrees
        ([None, None], 0.0, 0.0, None),
    ],
)
def test_agreement_is_the_share_of_runs_giving_the_most_common_answer(
    answers: list[str | None], agreement: float, accuracy: float, majority: str | None
) -> None:
    [summary] = summarise([run("q", a) for a in answers], [Q])
    assert (summary.agreement, summary.accuracy, summary.majority) == (agreement, accuracy, majority)


def test_failed_runs_are_counted_apart() -> None:
    results = [
        run("q", "4", latency=1.0),
        run("q", None, error="The engine closed the stream."),
        run("q", "4", latency=3.0),
    ]
    [summary] = summarise(results, [Q])
    assert (summary.runs, summary.errors, summary.agreement, summary.accuracy) == (3, 1, 1.0, 1.0)
    assert (summary.latency_s.mean, summary.latency_s.p50) == (2.0, 2.0)
    assert summary.latency_s.p95 == pytest.approx(2.9)
    [everything_failed] = summarise([run("q", None, error="down")], [Q])
    assert (everything_failed.errors, everything_failed.agreement, everything_failed.latency_s.mean) == (1, None, None)


def test_several_questions_get_an_overall_row_and_no_known_answer_means_no_accuracy() -> None:
    results = [run("q", "4"), run("q", "5"), run("f", "hi"), run("f", "hi"), run("f", "hello")]
    q, f, overall = summarise(results, [Q, FREE])
    assert (q.agreement, q.accuracy) == (0.5, 0.5)
    assert f.agreement == pytest.approx(2 / 3)
    assert (f.accuracy, f.majority) == (None, "hi")
    assert overall.question == "all" and overall.runs == 5
    assert overall.agreement == pytest.approx(3 / 5)  # runs agreeing with their own question's majority
    assert overall.accuracy == 0.5  # over the runs of questions with a known answer
    assert majority_answer([]) is None


def test_csv_rows_say_which_runs_agree_and_which_are_right() -> None:
    results = [run("q", "4"), run("q", "5"), run("q", None, error="boom"), run("f", "hi")]
    rows = csv_rows(results, [Q, FREE])
    assert [(r["answer"], r["agrees"], r["correct"], r["error"]) for r in rows] == [
        ("4", "1", "1", ""), ("5", "0", "0", ""), ("", "", "", "boom"), ("hi", "1", "", ""),
    ]  # fmt: skip
    out = io.StringIO()
    write_csv(out, results, [Q, FREE])
    assert out.getvalue().splitlines()[0] == ",".join(CSV_FIELDS)


def test_the_builtin_set_has_known_numeric_answers() -> None:
    assert len(BUILTIN_MATH) == 8
    assert len({q.id for q in BUILTIN_MATH}) == 8
    for question in BUILTIN_MATH:
        assert question.math and question.answer is not None
        assert (answer_key(question.answer) or "").startswith("=")  # a number, compared by value


# -- the runner against a fake engine (answers and failures a real model cannot be made to give) --


@pytest.fixture
def fake() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def fake_url(fake: FakeEngine) -> Iterator[str]:
    with serve_fake(fake) as url:
        yield url


def boxed(value: str) -> Reply:
    return Reply(["Compute."], [f"So the answer is \\boxed{{{value}}}."])


async def evaluate(
    url: str, questions: list[Question], *, runs: int, concurrency: int, max_tokens: int | None = None
) -> list[RunResult]:
    sampling = Sampling(max_tokens=max_tokens)
    client = ModelClient(url)
    try:
        return await run_evaluation(client, questions, runs=runs, concurrency=concurrency, sampling=sampling)
    finally:
        await client.aclose()


async def test_different_boxed_answers_halve_the_agreement(fake: FakeEngine, fake_url: str) -> None:
    fake.replies = [boxed("4"), boxed("4.0"), boxed("\\dfrac{10}{2}")]  # the last one repeats
    results = await evaluate(fake_url, [Q], runs=4, concurrency=2)
    assert sorted(r.answer or "" for r in results) == ["4", "4.0", "\\dfrac{10}{2}", "\\dfrac{10}{2}"]
    [summary] = summarise(results, [Q])
    assert (summary.errors, summary.agreement, summary.accuracy) == (0, 0.5, 0.5)
    # R1's rules: one user turn (no system role), the math instruction, the recommended sampling.
    request = fake.requests[0]
    assert request["messages"] == [{"role": "user", "content": f"2+2?\n\n{MATH_INSTRUCTION}"}]
    assert (request["temperature"], request["top_p"]) == (0.6, 0.95)


async def test_a_run_that_dies_mid_stream_is_an_error_on_that_run_only(fake: FakeEngine, fake_url: str) -> None:
    fake.replies = [boxed("4"), Reply(["Comp"], ["So the ans"], die=True), boxed("4")]
    results = await evaluate(fake_url, [Q], runs=3, concurrency=1)
    [failed] = [r for r in results if r.error]
    assert "closed the stream" in (failed.error or "")
    assert failed.latency_s is None and failed.answer is None
    [summary] = summarise(results, [Q])
    assert (summary.runs, summary.errors, summary.agreement, summary.accuracy) == (3, 1, 1.0, 1.0)


class Counting:
    """A client that counts how many streams are open at once."""

    def __init__(self, client: ModelClient) -> None:
        self.client = client
        self.open = 0
        self.most = 0

    async def acount_tokens(
        self, messages: Iterable[Mapping[str, object]], *, math: bool = False, prefix: str | None = None
    ) -> TokenCount | None:
        return await self.client.acount_tokens(messages, math=math, prefix=prefix)

    async def astream(
        self, messages: Iterable[Mapping[str, object]], sampling: Sampling = RECOMMENDED, *, pace: float | None = None
    ) -> AsyncIterator[StreamEvent]:
        self.open += 1
        self.most = max(self.most, self.open)
        try:
            async for event in self.client.astream(messages, sampling, pace=pace):
                yield event
        finally:
            self.open -= 1


async def test_no_more_than_k_runs_go_at_once_and_progress_is_reported(fake: FakeEngine, fake_url: str) -> None:
    fake.replies = [Reply(["a", "b", "c"], ["\\boxed{1}"], interval=0.02)]
    counting = Counting(ModelClient(fake_url))
    heard: list[RunResult] = []
    try:
        results = await run_evaluation(counting, [Q, FREE], runs=3, concurrency=2, on_run=heard.append)
    finally:
        await counting.client.aclose()
    assert counting.most == 2
    assert len(results) == len(heard) == 6
    assert sorted((r.question, r.run) for r in heard) == [(q, i) for q in ("f", "q") for i in (1, 2, 3)]
    # The fake sends no usage: tokens are counted by pieces (3 of thinking, 1 of answer).
    assert {r.completion_tokens for r in results} == {4}
    assert all(r.tokens_per_s and r.ttft_ms and r.latency_s for r in results)


async def test_an_unreachable_engine_fails_before_any_run_and_bad_numbers_are_refused() -> None:
    started = time.monotonic()
    with pytest.raises(EngineUnreachable, match="Nothing answers"):
        await evaluate(f"http://127.0.0.1:{free_port()}/v1", [Q], runs=2, concurrency=1)
    assert time.monotonic() - started < 5
    for options in (
        {"runs": 0, "concurrency": 1},
        {"runs": 1, "concurrency": 0},
        {"runs": 1, "concurrency": 1, "max_tokens": 0},
    ):
        with pytest.raises(InvalidInput):
            await evaluate("http://127.0.0.1:9/v1", [Q], **options)
    with pytest.raises(InvalidInput):
        await evaluate("http://127.0.0.1:9/v1", [Question("p", "  ")], runs=1, concurrency=1)


# -- the runner and the command line against the real engine ------------------------------


async def test_the_real_engine_answers_every_run_alike(live_app: LiveApp) -> None:
    client = ModelClient(live_app.engine.base_url, api_key=live_app.engine.api_key, model=SERVED_NAME)
    try:
        results = await run_evaluation(client, [FREE], runs=4, concurrency=2)
    finally:
        await client.aclose()
    assert len(results) == 4
    for result in results:
        assert result.error is None and result.finish_reason == "stop"
        assert result.ttft_ms and result.ttft_ms > 0
        assert result.latency_s and result.latency_s * 1000 > result.ttft_ms
        assert rate_or_too_quick(result.tokens_per_s)
        assert result.completion_tokens and result.completion_tokens >= len(ANSWER_PIECES)  # counted by vLLM
    [summary] = summarise(results, [FREE])
    assert summary.agreement == 1.0 and summary.errors == 0
    assert summary.majority == " ".join(SCRIPT_ANSWER.split())
    assert summary.latency_s.p50 is not None and summary.latency_s.p95 is not None
    assert summary.latency_s.p50 <= summary.latency_s.p95


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webapp.ops.evaluation", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_command_line_prints_a_table_and_writes_the_csv(live_app: LiveApp, tmp_path: Path) -> None:
    out = tmp_path / "runs.csv"
    # `--api-key=KEY`, not `--api-key KEY`: a random key can begin with "-", which argparse takes for an option.
    done = cli(
        "--base-url", live_app.engine.base_url, f"--api-key={live_app.engine.api_key}", "--model", SERVED_NAME,
        "--prompt", "2+2?", "--math", "--answer", "4", "--runs", "4", "--concurrency", "2", "--max-tokens", "64",
        "--csv", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header, rule, row = done.stdout.splitlines()
    assert header.split() == SUMMARY_HEADERS
    assert set(rule.replace(" ", "")) == {"-"}
    cells = row.split()
    assert cells[:3] == ["prompt", "4", "0"]
    assert cells[-2:] == ["100%", "0%"]  # the scripted model agrees with itself, and is wrong
    assert done.stderr.count("prompt run") == 4  # progress, one line per run
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == CSV_FIELDS
    assert sorted(r["run"] for r in rows) == ["1", "2", "3", "4"]
    assert {(r["agrees"], r["correct"], r["error"], r["finish_reason"]) for r in rows} == {("1", "0", "", "stop")}
    assert all(
        float(r["ttft_ms"]) > 0 and rate_or_too_quick(float(r["tokens_per_s"]) if r["tokens_per_s"] else None)
        for r in rows
    )


def test_the_command_line_says_plainly_when_nothing_answers() -> None:
    started = time.monotonic()
    done = cli("--base-url", f"http://127.0.0.1:{free_port()}/v1", "--builtin", "math", "--runs", "2")
    assert done.returncode == 1
    assert "Nothing answers at http://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "2"], "one of the arguments --prompt --builtin is required"),
        (["--prompt", "hi", "--runs", "0"], "must be at least 1"),
        (["--prompt", "hi", "--concurrency", "two"], "not a whole number"),
        (["--builtin", "poetry"], "invalid choice"),
        (["--builtin", "math", "--answer", "4"], "--answer and --math go with --prompt"),
        (["--prompt", "  "], "--prompt is empty"),
    ],
)
def test_the_command_line_refuses_bad_arguments(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


async def test_stopping_the_runner_ends_the_runs_in_flight(fake: FakeEngine, fake_url: str) -> None:
    fake.replies = [Reply(["thinking "] * 200, ["\\boxed{1}"], interval=0.01)]
    task = asyncio.create_task(evaluate(fake_url, [Q], runs=4, concurrency=2))
    await until(lambda: len(fake.requests), lambda started: started >= 2)  # two runs in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(fake.requests) == 2  # the other two never started


# -- tokens per second -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "first_tokens", "first", "last", "rate"),
    [
        (101, 1, 10.0, 12.0, 50.0),  # the tokens after the first arrival, over the time from it to the last
        (500, 1, 10.0, 10.000002, None),  # read whole at once: no figure, not 250 million tok/s
        (500, 500, 10.0, 10.0, None),
        (40, 20, 10.0, 10.5, 40.0),  # a first read of 20 tokens counts none of them
        (1, 1, 10.0, 11.0, None),  # one token: nothing after it
        (10, 1, None, None, None),
    ],
)
def test_a_rate_is_given_only_over_a_meaningful_interval(
    tokens: int, first_tokens: int, first: float | None, last: float | None, rate: float | None
) -> None:
    assert decode_rate(tokens, first_tokens, first, last) == rate


async def test_an_answer_read_at_once_has_no_rate_and_shows_a_dash(fake: FakeEngine, fake_url: str) -> None:
    fake.replies = [Reply(["think "] * 200, ["\\boxed{4}"])]  # every piece in one write, no interval
    [result] = await evaluate(fake_url, [Q], runs=1, concurrency=1)
    assert result.completion_tokens == 201
    assert result.tokens_per_s is None
    [row] = summary_rows(summarise([result], [Q]))
    tps = SUMMARY_HEADERS.index("tokens_per_s_mean")
    assert row[tps : tps + 3] == ["—", "—", "—"]


async def test_an_answer_written_over_time_has_its_rate(fake: FakeEngine, fake_url: str) -> None:
    fake.replies = [Reply(["think "] * 5, ["\\boxed{4}"], interval=0.03)]
    [result] = await evaluate(fake_url, [Q], runs=1, concurrency=1)
    assert result.tokens_per_s is not None and 0 < result.tokens_per_s <= 1 / 0.03  # a piece per interval at most
