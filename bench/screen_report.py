"""The on-screen section of docs/benchmarks.md: where the first token's time goes, and many pages at once."""

from __future__ import annotations

from collections.abc import Callable

from bench.screen import Screen

MS = 1e3
# The page's marks, in the order a send passes them (ms from the Enter keydown, medians of the sends).
MARKS = {
    "join_sent": "the page's request to start the turn leaves (Gradio: `queue/join`)",
    "join_answered": "its answer is back",
    "stream_sent": "the request for the stream leaves (Gradio: `queue/data`; the app: the POST of the message)",
    "stream_answered": "the stream's headers are back",
    "bytes": "the stream's first bytes reach the page's script",
    "token_bytes": "the bytes with the first token reach the page's script",
    "shown": "the first token is in the chat's DOM",
}


def _cell(screen: Screen, way: str, name: str) -> str:
    value = screen.part(way, name)
    return "" if value is None else f"{value:.1f}"


def markdown(screen: Screen, table: Callable[[list[str], list[list[str]]], str]) -> list[str]:
    """Lines of the section; `table` makes a Markdown table of (header, rows)."""
    ways = [way for way in ("app", "baseline") if way in screen.ttft]
    parts = []
    if ways:
        direct = {way: sorted(screen.direct[way])[len(screen.direct[way]) // 2] * MS for way in ways}
        rows = [[f"{text} (`{name}`)", *[_cell(screen, way, name) for way in ways]] for name, text in MARKS.items()]
        rows.append(["a direct streamed call's first token, just before (p50)", *[f"{direct[w]:.1f}" for w in ways]])
        parts += [
            "## First token on screen",
            "",
            f"Headless Chromium, one page per way, {len(screen.ttft[ways[0]])} sends each (after 3 to warm up), "
            "each just after a direct streamed call to the same upstream; timed in the page, from the Enter "
            "keydown to a `MutationObserver` seeing the first token in the chat (`bench/screen.py`). Where the "
            "time goes, in ms from the Enter keydown (the median of the sends; a blank: the page made no such "
            "request). The app's page sends the message to the app's REST stream itself (`static/live.js`) and "
            "renders the answer as it comes (Markdown, KaTeX); the baseline's goes through Gradio's events "
            "(its page may also run other Gradio events, such as the status timer, within the window).",
            "",
            table(["mark", *ways], rows),
            "",
        ]
    if screen.pages:
        rows = [
            [way, str(count), ", ".join(f"{s:.2f}" for s in runs)]
            for way, counts in screen.pages.items()
            for count, runs in counts.items()
        ]
        parts += [
            "## Pages streaming at once",
            "",
            f"N Chromium pages (each its own context and owner) press Enter at once; each streams `{screen.stream}` "
            "(tokens at a fixed rate); a page's time runs from its Enter to the end mark on its screen. The slowest "
            "page of each run:",
            "",
            table(["way", "pages", "seconds, slowest page, per run"], rows),
            "",
        ]
    return parts
