"""What an evaluation asks: a question, its known answer if any, and the built-in sets."""

from __future__ import annotations

from dataclasses import dataclass


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
