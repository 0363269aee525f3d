"""What a reply answers, and when two answers agree (`6.0` is `6`, `\\dfrac{5}{6}` is `5/6`); pure."""

from __future__ import annotations

import re
from fractions import Fraction

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
