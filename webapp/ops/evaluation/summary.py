"""Runs in figures: mean, median and p95 of each measure, the majority answer, agreement, accuracy; pure."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from webapp.ops.evaluation.answers import answer_key, same_answer
from webapp.ops.evaluation.questions import Question


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
