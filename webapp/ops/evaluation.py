"""Evaluation: the same question run N times, k at once; time to first token, latency, tokens/s, agreement.

The source article's advice, done: "run the same query several times, average the
response time, check the consistency". The statistics are pure functions; the
runner streams through `ModelClient` (so R1's rules apply: no system prompt,
temperature 0.6 / top_p 0.95, the math instruction for math questions); the
command line is `python -m webapp.ops.evaluation --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, Protocol

from webapp.errors import AppError, InvalidInput
from webapp.llm.client import (
    RECOMMENDED_TEMPERATURE,
    RECOMMENDED_TOP_P,
    ModelClient,
    StreamEnd,
    StreamEvent,
    TokenCount,
)


@dataclass(frozen=True, slots=True)
class Question:
    """One prompt to evaluate; `answer` is the known answer, when there is one."""

    id: str
    text: str
    answer: str | None = None
    math: bool = True


# Short questions with one integer (or simple fraction) answer, written for this app.
BUILTIN_MATH: tuple[Question, ...] = (
    Question("q1", "What is 17 × 23?", "391"),
    Question("q2", "A train travels at 60 km per hour for 2.5 hours. How many kilometres does it travel?", "150"),
    Question("q3", "What is the sum of the integers from 1 to 100?", "5050"),
    Question("q4", "Solve for x: 3x + 7 = 25.", "6"),
    Question("q5", "What is the greatest common divisor of 84 and 126?", "42"),
    Question("q6", "一件衬衫原价 80 元，打七五折后售价多少元？", "60"),
    Question("q7", "How many positive divisors does 36 have?", "9"),
    Question("q8", "What is 1/2 + 1/3? Give the answer as a fraction.", "\\frac{5}{6}"),
)
BUILTIN_SETS: dict[str, tuple[Question, ...]] = {"math": BUILTIN_MATH}

# -- answers ---------------------------------------------------------------------

_BOXED = re.compile(r"\\boxed\s*\{")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_SPACING = re.compile(r"\\[,;:! ]|\\(?:left|right)\b")
_ASSIGNMENT = re.compile(r"^[A-Za-z]\s*=\s*")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$|^-?\d+/\d+$")
_FRAC = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(\d+)\}$")


def extract_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` in `text` (braces balanced), or None."""
    found = None
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for index in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                found = text[start:index]
                break
    return found


def normalise_answer(answer: str) -> str:
    """An answer as compared: no `$`, `\\text{}`, spacing commands, `x =` or trailing `.`; `\\dfrac` is `\\frac`."""
    text = answer.strip().strip("$").strip()
    text = _TEXT.sub(r"\1", text)
    text = _SPACING.sub("", text)
    text = re.sub(r"\\[dt]frac\b", r"\\frac", text)
    text = _ASSIGNMENT.sub("", text)
    text = re.sub(r"\s+", " ", text).strip().rstrip(".。").strip()
    text = re.sub(r"\s*([{}^_/=+*(),-])\s*", r"\1", text)  # `\frac {5} {6}` is `\frac{5}{6}`
    return text.replace(",", "") if _THOUSANDS.match(text) else text


def parse_number(answer: str) -> Fraction | None:
    """The exact value of a normalised answer that is a number (`6`, `-2.5`, `5/6`, `\\frac{5}{6}`), else None."""
    text = answer.replace(" ", "")
    if frac := _FRAC.match(text):
        text = f"{frac.group(1)}{frac.group(2)}/{frac.group(3)}"
        text = text.replace("--", "")
    if not _NUMBER.match(text):
        return None
    try:
        return Fraction(text)
    except ZeroDivisionError:
        return None


def answer_key(answer: str | None) -> str | None:
    """What two answers must share to agree: their exact value when numbers, else their normalised text."""
    if answer is None:
        return None
    text = normalise_answer(answer)
    if not text:
        return None
    number = parse_number(text)
    return f"={number}" if number is not None else text


def same_answer(a: str | None, b: str | None) -> bool:
    """True when both are answers and agree (`6.0` is `6`, `\\dfrac{5}{6}` is `5/6`)."""
    key = answer_key(a)
    return key is not None and key == answer_key(b)


def answer_of(reply: str) -> str | None:
    """The answer a reply gives: its last `\\boxed{}`, or else its whole text (so free prompts compare too)."""
    boxed = extract_boxed(reply)
    if boxed is not None:
        return boxed
    text = " ".join(reply.split())
    return text or None


# -- statistics ------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0..100) by linear interpolation between closest ranks (numpy's default); None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Figures:
    """Mean, median and 95th percentile of one measure; None where no run measured it."""

    mean: float | None
    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Figures:
        present = [v for v in values if v is not None]
        mean = sum(present) / len(present) if present else None
        return cls(mean, percentile(present, 50), percentile(present, 95))


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run of one question: what it cost and what it answered, or the error that ended it."""

    question: str
    run: int
    ttft_ms: float | None = None
    latency_s: float | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    finish_reason: str | None = None
    answer: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """A question's runs (or all of them, as `question="all"`) in figures.

    Agreement is the share of completed runs whose answer is the most common one;
    accuracy the share whose answer is the known one. Runs that failed count apart.
    """

    question: str
    runs: int
    errors: int
    ttft_ms: Figures
    latency_s: Figures
    tokens_per_s: Figures
    majority: str | None
    agreement: float | None
    accuracy: float | None


def majority_answer(results: Sequence[RunResult]) -> str | None:
    """The most common answer among completed runs (the first given, on a tie), as first written."""
    keys = [answer_key(r.answer) for r in results if r.error is None]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    best = max(counts.values())
    winner = next(k for k in keys if k is not None and counts[k] == best)
    return next(r.answer for r in results if r.error is None and answer_key(r.answer) == winner)


def summarise(results: Sequence[RunResult], questions: Sequence[Question]) -> list[Summary]:
    """One summary per question, in the order given, then an `all` row when there are several questions."""
    known = {q.id: q.answer for q in questions}
    by_question = {q.id: [r for r in results if r.question == q.id] for q in questions}
    rows: list[Summary] = []
    totals = [0, 0, 0, 0]  # completed, agreeing, with a known answer, right
    for question_id, runs in by_question.items():
        done = [r for r in runs if r.error is None]
        majority = majority_answer(done)
        agreeing = sum(same_answer(r.answer, majority) for r in done)
        answer = known[question_id]
        right = sum(same_answer(r.answer, answer) for r in done) if answer is not None else 0
        graded = len(done) if answer is not None else 0
        for i, value in enumerate((len(done), agreeing, graded, right)):
            totals[i] += value
        rows.append(_summary(question_id, runs, majority, _share(agreeing, len(done)), _share(right, graded)))
    if len(questions) > 1:
        agreement, accuracy = _share(totals[1], totals[0]), _share(totals[3], totals[2])
        rows.append(_summary("all", list(results), None, agreement, accuracy))
    return rows


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _summary(
    question: str, runs: Sequence[RunResult], majority: str | None, agreement: float | None, accuracy: float | None
) -> Summary:
    done = [r for r in runs if r.error is None]
    return Summary(
        question=question,
        runs=len(runs),
        errors=len(runs) - len(done),
        ttft_ms=Figures.of(r.ttft_ms for r in done),
        latency_s=Figures.of(r.latency_s for r in done),
        tokens_per_s=Figures.of(r.tokens_per_s for r in done),
        majority=majority,
        agreement=agreement,
        accuracy=accuracy,
    )


SUMMARY_HEADERS = [
    "question", "runs", "errors", "ttft_ms_mean", "ttft_ms_p50", "ttft_ms_p95", "latency_s_mean", "latency_s_p50",
    "latency_s_p95", "tokens_per_s_mean", "tokens_per_s_p50", "tokens_per_s_p95", "majority", "agreement", "accuracy",
]  # fmt: skip


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def summary_rows(summaries: Sequence[Summary]) -> list[list[str]]:
    """The summaries as text cells under SUMMARY_HEADERS (ms to 1 decimal, s to 3, shares as percentages)."""
    rows = []
    for s in summaries:
        figures = [(s.ttft_ms, 1), (s.latency_s, 3), (s.tokens_per_s, 1)]
        cells = [_fmt(v, d) for f, d in figures for v in (f.mean, f.p50, f.p95)]
        majority = s.majority if s.majority is None or len(s.majority) <= 40 else f"{s.majority[:39]}…"
        rows.append(
            [
                s.question,
                str(s.runs),
                str(s.errors),
                *cells,
                majority or "",
                _percent(s.agreement),
                _percent(s.accuracy),
            ]
        )
    return rows


CSV_FIELDS = [
    "question", "run", "ttft_ms", "latency_s", "completion_tokens", "tokens_per_s", "finish_reason", "answer",
    "agrees", "correct", "error",
]  # fmt: skip


def csv_rows(results: Sequence[RunResult], questions: Sequence[Question]) -> list[dict[str, str]]:
    """One row per run under CSV_FIELDS; `agrees` with the question's majority and `correct` are 1, 0 or empty."""
    known = {q.id: q.answer for q in questions}
    majorities = {q.id: majority_answer([r for r in results if r.question == q.id]) for q in questions}
    rows = []
    for r in results:
        answer = known.get(r.question)
        ok = r.error is None
        rows.append({
            "question": r.question,
            "run": str(r.run),
            "ttft_ms": _fmt(r.ttft_ms, 1),
            "latency_s": _fmt(r.latency_s, 4),
            "completion_tokens": "" if r.completion_tokens is None else str(r.completion_tokens),
            "tokens_per_s": _fmt(r.tokens_per_s, 2),
            "finish_reason": r.finish_reason or "",
            "answer": r.answer or "",
            "agrees": str(int(same_answer(r.answer, majorities.get(r.question)))) if ok else "",
            "correct": str(int(same_answer(r.answer, answer))) if ok and answer is not None else "",
            "error": r.error or "",
        })  # fmt: skip
    return rows


def write_csv(out: IO[str], results: Sequence[RunResult], questions: Sequence[Question]) -> None:
    """The runs as CSV, with a header line."""
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    writer.writerows(csv_rows(results, questions))


# -- the runner ------------------------------------------------------------------


class Backend(Protocol):
    """What the runner needs of the engine: a `ModelClient`, or anything that streams like one."""

    async def acount_tokens(
        self, messages: Iterable[Mapping[str, object]], *, math: bool = False, prefix: str | None = None
    ) -> TokenCount | None: ...

    def astream(
        self,
        messages: Iterable[Mapping[str, object]],
        *,
        temperature: float = ...,
        top_p: float = ...,
        max_tokens: int | None = ...,
        math: bool = False,
        pace: float | None = ...,
    ) -> AsyncIterator[StreamEvent]: ...


async def run_once(
    client: Backend, question: Question, run: int, *, temperature: float, top_p: float, max_tokens: int | None
) -> RunResult:
    """One streamed answer, timed; an engine error ends this run only, and is recorded on it."""
    started = time.perf_counter()
    first: float | None = None
    deltas = 0
    answer: list[str] = []
    end = StreamEnd(None)
    messages = [{"role": "user", "content": question.text}]
    try:
        stream = client.astream(
            messages, temperature=temperature, top_p=top_p, max_tokens=max_tokens, math=question.math,
            pace=0,  # timings to the delta, not gathered for display
        )  # fmt: skip
        async for event in stream:
            if isinstance(event, StreamEnd):
                end = event
                continue
            first = first if first is not None else time.perf_counter()
            deltas += event.tokens
            if event.kind == "content":
                answer.append(event.text)
    except AppError as exc:
        return RunResult(question.id, run, error=exc.message)
    finished = time.perf_counter()
    # vLLM reports the exact count in the stream's usage; a server that does not is counted by deltas.
    tokens = end.completion_tokens if end.completion_tokens is not None else deltas
    decoding = finished - first if first is not None else 0.0
    return RunResult(
        question=question.id,
        run=run,
        ttft_ms=(first - started) * 1000 if first is not None else None,
        latency_s=finished - started,
        completion_tokens=tokens,
        tokens_per_s=tokens / decoding if decoding > 0 and tokens > 1 else None,
        finish_reason=end.finish_reason,
        answer=answer_of("".join(answer)),
    )


async def run_evaluation(
    client: Backend,
    questions: Sequence[Question],
    *,
    runs: int,
    concurrency: int,
    max_tokens: int | None = None,
    temperature: float = RECOMMENDED_TEMPERATURE,
    top_p: float = RECOMMENDED_TOP_P,
    on_run: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Each question `runs` times, at most `concurrency` requests at once; `on_run` hears of each run as it ends.

    Raises the engine's error when it cannot be reached at all (before any run starts).
    """
    if runs < 1 or concurrency < 1:
        raise InvalidInput(f"Runs and concurrency must be at least 1 (got {runs} and {concurrency}).")
    if max_tokens is not None and max_tokens < 1:
        raise InvalidInput(f"max_tokens must be at least 1, not {max_tokens}.")
    if not questions or not all(q.text.strip() for q in questions):
        raise InvalidInput("There is no question to run.", hint="Type a prompt or choose the built-in set.")
    # Ask the engine once before the runs: an unreachable engine fails here, at once, and the
    # client's first-use discovery (model name, the template's thinking tag) stays out of the timings.
    first = questions[0]
    await client.acount_tokens([{"role": "user", "content": first.text}], math=first.math)
    gate = asyncio.Semaphore(concurrency)

    async def one(question: Question, run: int) -> RunResult:
        async with gate:
            result = await run_once(client, question, run, temperature=temperature, top_p=top_p, max_tokens=max_tokens)
        if on_run is not None:
            on_run(result)
        return result

    return list(await asyncio.gather(*(one(q, i) for q in questions for i in range(1, runs + 1))))


# -- the command line --------------------------------------------------------------


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under headers, columns aligned, for a terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m webapp.ops.evaluation",
        description="Run a prompt (or the built-in math set) N times, k at once, against an OpenAI-compatible "
        "vLLM server; print time to first token, latency, tokens/s and answer agreement.",
    )
    cli.add_argument("--base-url", default=os.environ.get("VLLM_BASE_URL") or "http://127.0.0.1:8000/v1")
    cli.add_argument("--api-key", default=os.environ.get("VLLM_API_KEY"))
    cli.add_argument("--model", help="served model name (default: the first in /v1/models)")
    what = cli.add_mutually_exclusive_group(required=True)
    what.add_argument("--prompt", help="the question to run")
    what.add_argument("--builtin", choices=sorted(BUILTIN_SETS), help="a built-in set of questions with known answers")
    cli.add_argument("--answer", help="the known answer to --prompt, for accuracy")
    cli.add_argument("--math", action="store_true", help="add the math instruction to --prompt (\\boxed{} answer)")
    cli.add_argument("--runs", type=_at_least_one, default=5, help="runs per question (default 5)")
    cli.add_argument("--concurrency", type=_at_least_one, default=1, help="requests at once (default 1)")
    cli.add_argument("--max-tokens", type=_at_least_one, help="answer length limit (default: all that fits)")
    cli.add_argument("--temperature", type=float, default=RECOMMENDED_TEMPERATURE)
    cli.add_argument("--top-p", type=float, default=RECOMMENDED_TOP_P)
    cli.add_argument("--timeout", type=float, default=600.0, help="seconds one request may take (default 600)")
    cli.add_argument("--csv", help="write every run to this CSV file")
    return cli


async def _run_cli(args: argparse.Namespace, questions: Sequence[Question]) -> list[RunResult]:
    client = ModelClient(args.base_url, api_key=args.api_key, model=args.model, timeout=args.timeout)
    total = len(questions) * args.runs
    done = 0

    def progress(result: RunResult) -> None:
        nonlocal done
        done += 1
        outcome = f"error: {result.error}" if result.error else f"{result.latency_s:.2f} s, answer {result.answer!r}"
        print(f"[{done}/{total}] {result.question} run {result.run}: {outcome}", file=sys.stderr, flush=True)

    try:
        return await run_evaluation(
            client, questions, runs=args.runs, concurrency=args.concurrency, max_tokens=args.max_tokens,
            temperature=args.temperature, top_p=args.top_p, on_run=progress,
        )  # fmt: skip
    finally:
        await client.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: 0 when runs completed, 1 when the engine failed (every run, or before any), 2 on bad use."""
    cli = parser()
    args = cli.parse_args(argv)
    if args.builtin and (args.answer or args.math):
        cli.error("--answer and --math go with --prompt")
    if args.prompt is not None and not args.prompt.strip():
        cli.error("--prompt is empty")
    questions = (
        BUILTIN_SETS[args.builtin] if args.builtin else (Question("prompt", args.prompt, args.answer, args.math),)
    )
    try:
        results = asyncio.run(_run_cli(args, questions))
    except AppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(text_table(SUMMARY_HEADERS, summary_rows(summarise(results, questions))))
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as out:
            write_csv(out, results, questions)
    failed = sum(r.error is not None for r in results)
    if failed == len(results):
        print(f"error: every run failed: {results[0].error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
