"""A shared conversation as one static page: Markdown and LaTeX rendered on the server (pure).

Nothing on the page can run: Markdown is rendered with raw HTML turned off (so
`<script>` shows as text), links to `javascript:` and the like are dropped, math
becomes MathML built as an element tree (so its text is escaped), and the page's
Content-Security-Policy forbids scripts anyway. The reasoning is folded away in
a `<details>` block.
"""

from __future__ import annotations

import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import escape, unescape
from typing import Any

from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt

from webapp.chat.render import wrap_boxed
from webapp.web.pages import page

# Code first (its dollars are not math), then the four math delimiters R1 writes.
_SEGMENTS = re.compile(
    r"(?P<code>```.*?(?:```|\Z)|`[^`\n]*`)"
    r"|\$\$(?P<block>.+?)\$\$|\\\[(?P<block2>.+?)\\\]"
    r"|\\\((?P<inline>.+?)\\\)|\$(?P<inline2>[^$\n]+?)\$",
    re.DOTALL,
)


def mathml(latex: str, *, block: bool) -> str:
    """LaTeX as MathML with every text node escaped; LaTeX it cannot read is shown as code."""
    try:
        element = convert_to_element(latex, display="block" if block else "inline")
    except Exception:  # latex2mathml raises many kinds of errors on malformed input
        return f"<code>{escape(latex)}</code>"
    for node in element.iter():
        # latex2mathml keeps symbols as entity text ("&#x0003C;"); decode so that tostring escapes once.
        node.text = unescape(node.text) if node.text else node.text
        node.tail = unescape(node.tail) if node.tail else node.tail
        node.attrib.pop("href", None)
    return ET.tostring(element, encoding="unicode")


def _markdown() -> MarkdownIt:
    # html=False: raw HTML in a message is text. MarkdownIt's link validation drops javascript:, vbscript:, file:.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def to_html(text: str, md: MarkdownIt | None = None) -> str:
    """Model or user text as safe HTML."""
    maths: list[str] = []
    # A fresh marker per call: text cannot contain it by chance, or on purpose.
    marker = f"MATH{secrets.token_hex(8)}N"

    def protect(match: re.Match[str]) -> str:
        if match["code"] is not None:
            return match["code"]
        block = match["block"] or match["block2"]
        maths.append(mathml(block if block is not None else match["inline"] or match["inline2"], block=bool(block)))
        return f"{marker}{len(maths) - 1}X"

    prepared = _SEGMENTS.sub(protect, _wrap_bare_boxed(text))
    html = (md or _markdown()).render(prepared)
    return re.sub(marker + r"(\d+)X", lambda m: maths[int(m[1])], html)


def _wrap_bare_boxed(text: str) -> str:
    """`\\boxed{..}` outside math and code gets `$..$`, as the chat does."""
    out: list[str] = []
    cursor = 0
    for match in _SEGMENTS.finditer(text):
        out.append(wrap_boxed(text[cursor : match.start()]))
        out.append(match[0])
        cursor = match.end()
    out.append(wrap_boxed(text[cursor:]))
    return "".join(out)


def share_page(title: str, messages: Sequence[dict[str, Any]], *, created_at: float) -> str:
    """The read-only page of a shared conversation."""
    md = _markdown()
    parts = [f"<main><h1>{escape(title or 'Conversation')}</h1>"]
    for message in messages:
        role = "user" if message.get("role") == "user" else "assistant"
        label = "User" if role == "user" else "DeepSeek-R1"
        body = []
        reasoning = str(message.get("reasoning") or "")
        if role == "assistant" and reasoning.strip():
            body.append(f"<details><summary>Thought</summary>{to_html(reasoning, md)}</details>")
        body.append(to_html(str(message.get("content") or ""), md))
        parts.append(f'<section class="message {role}"><div class="role">{label}</div>{"".join(body)}</section>')
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(created_at))
    parts.append(f"<footer>A read-only snapshot, shared {stamp}.</footer></main>")
    return page(title or "Shared conversation", "".join(parts))
