"""Which language a person reads: their choice (kept in a cookie) or their browser's (pure).

The pages are in Chinese or English; Chinese for a browser that asks for it first, English otherwise.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGUAGES: tuple[Lang, ...] = ("zh", "en")
#: The page's language as last chosen in this browser, for pages that know no owner (sign-in).
LANG_COOKIE = "lang"


def from_accept_language(header: str | None) -> Lang:
    """zh when the browser's most wanted language is Chinese (any script or region), en otherwise."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.lower()))
    if not ranked:
        return "en"
    best = min(ranked)[2]
    return "zh" if best == "zh" or best.startswith("zh-") else "en"


def chosen_language(cookie: str | None, accept_language: str | None) -> Lang:
    """The language chosen in this browser, or else the one it asks for."""
    for lang in LANGUAGES:
        if cookie == lang:
            return lang
    return from_accept_language(accept_language)
