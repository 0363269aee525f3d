"""The answer being written, read by the page's own script from the app's REST stream.

Sending (Enter or Send) goes through `static/live.js`: it posts the message to
`POST /api/conversations/{id}/messages` with the owner's saved settings and shows the answer
as it streams, in bubbles of its own, rendered by `static/markdown.js` with the chat's rules
(`webapp/chat/render.py`). Gradio's event path puts 100 ms and more between a token and the
screen (docs/performance.md); the stream puts a few. When the stream ends (done, error, Stop),
the script hands over to Gradio here: the conversation as stored is shown, listed and made the
page's current one. Edit, regenerate, continue and everything else stay Gradio's.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import gradio as gr

from webapp.db.tables import MessageState
from webapp.ui.context import PRIVATE, Page, shown
from webapp.ui.i18n import TEXT, Lang

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
STATIC_PATH = "app-static"  # where the app serves `static/` (webapp/application.py)
# In load order: the renderer's libraries, the renderer, the send path.
SCRIPTS = ("vendor/purify.min.js", "vendor/marked.min.js", "vendor/katex.min.js", "markdown.js", "live.js")
_WORDS = ("thinking", "thought", "thought_quick")

# The conversation's id, from the script: the one it began in (`#live-began`) or ended (`#live-over`).
BEGAN_JS = "(ended, lang) => [window.r1Live?.began ?? ended, lang]"
HANDED_OVER_JS = "(ended, lang) => [window.r1Live?.handedOver ?? ended, lang]"


def katex_stylesheet() -> str | None:
    """Gradio's own KaTeX stylesheet (it ships the fonts), as the page links it: not served twice."""
    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    found = sorted(assets.glob("katex-*.css"))
    return f"assets/{found[0].name}" if found else None


# Gradio's Prism grammar for one language, one module each (`prism-python-<hash>.js`): the chat imports
# one when it first shows a code block in that language; the live answer imports the same file.
_GRAMMAR = re.compile(r"prism-(.+)-[\w-]{8}\.js")


def prism_grammars() -> dict[str, str]:
    """Gradio's Prism grammars, by language, as the page addresses them."""
    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    named = ((_GRAMMAR.fullmatch(path.name), path.name) for path in sorted(assets.glob("prism-*.js")))
    return {found[1]: f"assets/{name}" for found, name in named if found}


def _versioned(name: str) -> str:
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PATH}/{name}?v={digest}"  # a changed file is a new address: no stale copy in a cache


def page_head() -> str:
    """What the page's `<head>` gets: the script's words and settings, then its scripts."""
    config = {
        "words": {lang: {key: TEXT[key][lang] for key in _WORDS} for lang in ("zh", "en")},
        "katexCss": katex_stylesheet(),
        "grammars": prism_grammars(),
    }
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    scripts = "".join(f'<script src="{_versioned(name)}" defer></script>' for name in SCRIPTS)
    return f"<script>window.R1_LIVE = {data};</script>{scripts}"


class ScriptedSend:
    """The hidden parts of the page the script reads and clicks; built inside the chat tab."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.ended = gr.Textbox(elem_id="live-ended", visible="hidden", container=False)
        self.began = gr.Button(elem_id="live-began", visible="hidden")
        self.over = gr.Button(elem_id="live-over", visible="hidden")

    def wire(self, chatbot: gr.Chatbot, send: gr.Button, resume: gr.Button, listed: list[Any]) -> None:
        """`listed`: the conversation list and the open conversation's title."""
        page = self.page
        hidden: dict[str, Any] = {"concurrency_limit": None, "show_progress": "hidden", **PRIVATE}
        self.began.click(self.on_began, [self.ended, page.lang], [page.current, *listed], js=BEGAN_JS, **hidden)
        self.over.click(
            self.on_over,
            [self.ended, page.lang],
            [page.current, chatbot, *listed, send, resume],
            js=HANDED_OVER_JS,
            **hidden,
        )

    async def on_began(self, conversation_id: str, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        """A new chat's first message is stored: the chat is listed, and the page's, while its answer streams."""
        page = self.page
        owner = await page.owner_of(request)
        with shown(lang):
            info = await page.service.conversation(owner, conversation_id)
        page.acted.mark(request, info.id)  # the page's load, if still under way, leaves it alone
        return info.id, await page.sidebar(owner, lang, info.id), info.title

    async def on_over(self, conversation_id: str, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        """The stream is over: the conversation as stored (a stopped answer once it is saved), listed and open."""
        page = self.page
        if not page.acted.shows(request, conversation_id):
            # The user went on (New chat, another chat) while this arrived: their choice stands. The
            # stream's script has already given the page its Send back.
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.update(interactive=True), gr.skip()
        owner = await page.owner_of(request)
        with shown(lang):
            info = await page.service.conversation(owner, conversation_id)
        page.acted.mark(request, info.id)
        history = await page.service.settled_messages(owner, info.id)  # a stopped answer: once saved
        cut = bool(history) and history[-1].role == "assistant" and history[-1].state == MessageState.TRUNCATED
        return (
            info.id,
            await page.open(owner, info.id, lang),
            await page.sidebar(owner, lang, info.id),
            info.title,
            gr.update(interactive=True),
            gr.update(visible=cut),
        )
