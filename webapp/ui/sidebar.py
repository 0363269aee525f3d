"""The sidebar: new chat, search, the conversation list, rename and delete, the language."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.ui.context import PRIVATE, Page, conversation_choices, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t


class Sidebar:
    """Built inside `gr.Sidebar`; `wire` connects it to the chat it opens."""

    def __init__(self, page: Page) -> None:
        self.page = page
        add = page.labels.add
        self.new = add(gr.Button(t("new", DEFAULT_LANG), elem_id="new-chat", variant="primary"), "new", "value")
        self.search = add(
            gr.Textbox(elem_id="search", show_label=False, placeholder=t("search", DEFAULT_LANG)),
            "search",
            "placeholder",
        )
        self.conversations = gr.Radio(
            choices=[], elem_id="conversations", show_label=False, container=False, type="value"
        )
        with gr.Group():
            self.title = add(gr.Textbox(elem_id="title", label=t("title", DEFAULT_LANG), max_lines=1), "title")
            with gr.Row():
                self.rename = add(gr.Button(t("rename", DEFAULT_LANG), elem_id="rename", size="sm"), "rename", "value")
                self.delete = add(
                    gr.Button(t("delete", DEFAULT_LANG), elem_id="delete", size="sm", variant="stop"), "delete", "value"
                )
        # Each language in its own name: the switch reads the same in both.
        self.language = gr.Radio(
            [("中文", "zh"), ("English", "en")], value=DEFAULT_LANG, elem_id="language", show_label=False
        )

    def wire(self, chatbot: gr.Chatbot) -> None:
        page = self.page
        opened = [page.current, chatbot, self.title]
        page.blocks.load(self.on_load, [page.lang], [page.current, self.conversations, chatbot, self.title], **PRIVATE)
        self.conversations.input(self.on_select, [self.conversations, page.lang], opened, **PRIVATE)
        self.new.click(self.on_new, None, [*opened, self.conversations, page.editing], **PRIVATE)
        # `.change`, not `.input`: Gradio sends no input event for keys that delete text, and
        # the list stayed filtered after the search box was emptied. Keys typed while a search
        # runs must not be dropped (the default mode): the text as it stands then is searched next.
        self.search.change(
            self.on_search,
            [self.search, page.current, page.lang],
            [self.conversations],
            trigger_mode="always_last",
            **PRIVATE,
        )
        self.rename.click(self.on_rename, [self.title, page.current, page.lang], [self.conversations], **PRIVATE)
        self.delete.click(self.on_delete, [page.current, page.lang], [*opened, self.conversations], **PRIVATE)

    async def on_load(self, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        """Open the latest conversation, unless the user acted first (their chat stays as it is)."""
        page = self.page
        owner = await page.owner_of(request)
        conversations = await page.service.conversations(owner)
        if not conversations:  # nothing to restore: the page opens empty, and no update can race a send
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        latest = conversations[0]
        chat = await page.open(owner, latest.id, lang)
        if request in page.acted:  # checked last: the user may have acted while this load read
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        choices = gr.update(choices=conversation_choices(conversations, lang), value=latest.id)
        return latest.id, choices, chat, latest.title

    async def on_select(self, conversation_id: str | None, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        page = self.page
        page.acted.mark(request, conversation_id or None)
        if not conversation_id:
            return None, [], ""
        owner = await page.owner_of(request)
        with shown():
            info = await page.service.conversation(owner, conversation_id)
        return conversation_id, await page.open(owner, conversation_id, lang), info.title

    async def on_new(self, request: gr.Request) -> tuple[Any, ...]:
        self.page.acted.mark(request, None)
        await self.page.owner_of(request)
        return None, [], "", gr.update(value=None), False

    async def on_search(self, text: str, current: str | None, lang: Lang, request: gr.Request) -> Any:
        return await self.page.sidebar(await self.page.owner_of(request), lang, current, text)

    async def on_rename(self, title: str, current: str | None, lang: Lang, request: gr.Request) -> Any:
        owner = await self.page.owner_of(request)
        if not current:
            raise gr.Error(t("untitled", lang))
        with shown():
            await self.page.service.rename(owner, current, title)
        return await self.page.sidebar(owner, lang, current)

    async def on_delete(self, current: str | None, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        page = self.page
        page.acted.mark(request, None)
        owner = await page.owner_of(request)
        if current:
            with shown():
                await page.service.delete(owner, current)
        return None, [], "", await page.sidebar(owner, lang, None)
