"""Runs and their summaries as text: the summary table's cells, one CSV row a run, a terminal table."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO

from webapp.ops.evaluation.answers import same_answer
from webapp.ops.evaluation.questions import Question
from webapp.ops.evaluation.summary import RunResult, Summary, majority_answer

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
        cells = [_fmt(v, d) or "—" for f, d in figures for v in (f.mean, f.p50, f.p95)]  # —: no figure
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


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under headers, columns aligned, for a terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )
