"""What every area of the page shares: the services, who is asking, the page's states and words."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from webapp.auth.accounts import Identity
from webapp.auth.authenticator import Authenticator
from webapp.auth.gate import from_this_machine
from webapp.chat.service import ChatService
from webapp.db.records import MessageRecord
from webapp.db.tree import Tree
from webapp.errors import AppError, Unauthorized
from webapp.language import LANG_COOKIE, chosen_language
from webapp.llm.sampling import Sampling
from webapp.ops.status import StatusMonitor
from webapp.ui.bubbles import Chat, render
from webapp.ui.chat_list import chat_list
from webapp.ui.i18n import Lang, t
from webapp.ui.labels import Labels
from webapp.ui.sessions import PageSessions
from webapp.ui.version_nav import footers

# Events of the page are not part of the app's API (that is /api, documented at /docs).
PRIVATE: dict[str, Any] = {"api_visibility": "private"}


def sampling_from(
    temperature: float, top_p: float, max_tokens: float | None, math: bool, persona: str, budget: float | None
) -> Sampling:
    """The settings panel's values, as Gradio sends them, as a `Sampling`: the UI's one conversion.

    An empty or 0 budget (Gradio sends None or 0) is no cap."""
    return Sampling(
        temperature=float(temperature),
        top_p=float(top_p),
        max_tokens=int(max_tokens or 0) or None,
        math=bool(math),
        persona=persona or "",
        thinking_budget=int(budget or 0) or None,
    )


def refusal(text: str, lang: Lang) -> gr.Error:
    """A toast saying why something was not done, its title in `lang` too."""
    return gr.Error(text, title=t("error", lang), print_exception=False)


@contextmanager
def shown(lang: Lang) -> Iterator[None]:
    """An AppError inside becomes the message the page shows, in `lang`: the UI's one translation of errors."""
    try:
        yield
    except AppError as exc:
        raise refusal(exc.text(lang), lang) from exc


def language_of(request: gr.Request) -> Lang:
    """The language this browser last chose (the switch keeps it in a cookie), or the one it asks for."""
    return chosen_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


@dataclass
class Page:
    """Built once per app; its areas (sidebar, conversation, settings, status...) hold one each."""

    blocks: gr.Blocks
    service: ChatService
    auth: Authenticator
    monitor: StatusMonitor
    lang: gr.State
    current: gr.Textbox  # the conversation shown ("" or None: a new, empty chat), hidden in the page
    labels: Labels = field(default_factory=Labels)
    acted: PageSessions = field(default_factory=PageSessions)
    background: set[asyncio.Task[None]] = field(default_factory=set)  # tasks kept until they end

    async def identity_of(self, request: gr.Request) -> Identity:
        client = request.client.host if request.client else None
        local = from_this_machine(client, request.headers)
        who = await self.auth.identify(dict(request.cookies), request.headers.get("authorization"), local=local)
        if who is None:  # the session expired, or the page was loaded without the app's cookie
            ended = Unauthorized("Your session has ended: reload the page (and sign in again).", code="session_ended")
            raise refusal(ended.text(language_of(request)), language_of(request))
        return who

    async def owner_of(self, request: gr.Request) -> str:
        return (await self.identity_of(request)).owner

    async def language(self, request: gr.Request) -> Lang:
        """The owner's language, as they last chose it (on any device), or else this browser's."""
        saved = (await self.service.preferences(await self.owner_of(request))).language
        return "zh" if saved == "zh" else "en" if saved == "en" else language_of(request)

    def admit(self, owner: str, request: gr.Request, lang: Lang) -> None:
        """Count a turn against the owner's and the address's limits; a refusal is shown."""
        with shown(lang):
            self.service.admit(owner, request.client.host if request.client else None)

    def keep(self, work: Awaitable[None], name: str) -> None:
        """Run `work` after the event that began it has ended, holding it until it does."""

        async def run() -> None:
            await work

        self.background.add(task := asyncio.create_task(run(), name=name))
        task.add_done_callback(self.background.discard)

    async def view(self, owner: str, history: Sequence[MessageRecord], lang: Lang, tree: Tree | None = None) -> Chat:
        """The chat as this owner has chosen to see it (with or without the thinking); with the
        conversation's `tree`, each answer with its versions' arrows."""
        arrows = footers(tree, history, lang) if tree is not None else None
        return render(history, lang, (await self.service.preferences(owner)).show_reasoning, arrows)

    async def open(self, owner: str, conversation_id: str, lang: Lang) -> Chat:
        """The conversation's branch shown, with its versions' arrows."""
        tree = await self.service.tree(owner, conversation_id)
        return await self.view(owner, tree.branch(), lang, tree)

    async def sidebar(self, owner: str, lang: Lang, selected: str | None, search: str = "") -> Any:
        """The conversation list, `selected` highlighted."""
        return chat_list(await self.service.conversations(owner, search), lang, selected)
