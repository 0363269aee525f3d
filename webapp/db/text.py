"""Text as both databases can keep it (pure): no NUL, no lone surrogate; titles on one line."""

from __future__ import annotations

import re

TITLE_CHARS = 200
# What neither database can keep in text: NUL (PostgreSQL refuses it) and lone surrogates (not
# UTF-8: both refuse them; JSON's "\ud83d\ude00" escapes can bring them in, a pair split in two).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A title is one line of text: no C0 or C1 control characters (NUL among them).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def storable(text: str) -> str:
    """`text` as both databases keep it: NUL characters left out, surrogates paired (or U+FFFD when alone)."""
    if not unstorable(text):
        return text
    return text.replace("\x00", "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def title_text(text: str, limit: int = TITLE_CHARS) -> str:
    """A title as stored: one line, control characters left out, each run of whitespace one space."""
    spaced = _CONTROL.sub(lambda control: " " if control[0].isspace() else "", storable(text))
    return " ".join(spaced.split())[:limit].rstrip()


AUTO_TITLE_CHARS = 60  # a conversation's title until it is renamed: the start of its first message
# Where a cut title may end: after a word, at a space. Text without spaces (Chinese, Japanese) is cut
# at a character, as it reads; so is a title whose last space is too early to keep most of the text.
_MOST = 0.5


def auto_title(message: str, limit: int = AUTO_TITLE_CHARS) -> str:
    """A conversation's title from its first message: the whole line if it fits, else its start cut
    where a word ends, with an ellipsis (at most `limit` characters with it)."""
    line = title_text(message, len(message))
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * _MOST and line[limit - 1] != " ":  # not at a word's end: go back to the last one
        cut = cut[:space]
    return cut.rstrip(" ,.;:!?-—，。；：、！？") + "…"


def unstorable(text: str) -> bool:
    """True when `text` holds what no database keeps: no stored id or text can equal it."""
    return _UNSTORABLE.search(text) is not None
