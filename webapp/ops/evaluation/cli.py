"""The command line: `python -m webapp.ops.evaluation --help`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from webapp.errors import AppError
from webapp.llm.client import ModelClient
from webapp.llm.sampling import RECOMMENDED_TEMPERATURE, RECOMMENDED_TOP_P, Sampling
from webapp.ops.evaluation.questions import BUILTIN_SETS, Question
from webapp.ops.evaluation.report import SUMMARY_HEADERS, summary_rows, text_table, write_csv
from webapp.ops.evaluation.runner import run_evaluation
from webapp.ops.evaluation.summary import RunResult, summarise


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
        sampling = Sampling(temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens)
        return await run_evaluation(
            client, questions, runs=args.runs, concurrency=args.concurrency, sampling=sampling, on_run=progress
        )
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
