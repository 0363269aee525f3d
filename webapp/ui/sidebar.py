"""The sidebar: new chat, search, the conversation list (open, pin, rename, export, delete), the language."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.chat.keeping import UNDO_SECONDS
from webapp.ui.chat_list import TEMPLATE, chat_list
from webapp.ui.chat_list_script import SCRIPT
from webapp.ui.context import PRIVATE, Page, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t


def _picked(event: gr.EventData, key: str) -> str:
    """A field the list's script sent with its event (the conversation's id, a new title)."""
    return str((event._data or {}).get(key) or "")


# While an event changing the open chat (New chat, a listed chat opened) is on its way, Enter in
# the message box and Send are held (not lost: the text stays in the box); once the event is
# over, a held send goes, to the chat it opened. The event's inputs pass through unchanged.
HOLD_SENDS = """(...inputs) => {
  const held = (window.heldSends ||= { pending: 0, send: false });
  if (!held.listening) {
    held.listening = true;
    const hold = (event) => {
      event.preventDefault();
      event.stopImmediatePropagation();
      held.send = true;
    };
    document.addEventListener("keydown", (event) => {
      const enter = event.key === "Enter" && !event.shiftKey && !event.isComposing;
      if (held.pending && enter && event.target.closest?.("#prompt")) hold(event);
    }, true);
    document.addEventListener("click", (event) => {
      if (held.pending && event.target.closest?.("#send")) hold(event);
    }, true);
  }
  held.pending += 1;
  return inputs;
}"""


def _release_sends(send: str) -> str:
    """The script that ends one hold (`HOLD_SENDS`) and, the last one over, sends what was held by `send`."""
    return f"""() => {{
  const held = window.heldSends;
  if (!held) return;
  held.pending = Math.max(0, held.pending - 1);
  if (held.pending || !held.send) return;
  held.send = false;
  {send}
}}"""


RELEASE_SENDS = _release_sends('document.querySelector("#send")?.click();')


# A reload opens the chat that was open in this browser, as a person expects of a reload (kept in the
# browser: another device's chats open there, not here), or else the one with the newest activity
# (not the first listed: a pinned chat is first without being the one in use).
REMEMBERED = "r1chat.open"
REMEMBER_OPEN_JS = f"""(id) => {{
  try {{ if (id) localStorage.setItem("{REMEMBERED}", id); }} catch {{}}
}}"""
# The page's load holds sends too (`HOLD_SENDS`): one sent before it is over went to a new chat while
# the load then showed the last one, and the answer was lost from sight. Held, it goes to the chat
# the load opened, by the page's script (`static/live.js`), once the load has drawn it.
RECALL_OPEN_JS = f"""() => {{
  ({HOLD_SENDS})();
  try {{ return [localStorage.getItem("{REMEMBERED}") || ""]; }} catch {{ return [""]; }}
}}"""
RELEASE_LOADED_SENDS = _release_sends(
    'setTimeout(() => window.r1Live?.sendHeld?.() || document.querySelector("#send")?.click(), 0);'
)


class Sidebar:
    """Built inside `gr.Sidebar`; `wire` connects it to the chat it opens."""

    def __init__(self, page: Page) -> None:
        self.page = page
        add = page.labels.add
        self.new = add(gr.Button(t("new", DEFAULT_LANG), elem_id="new-chat", variant="primary"), "new", "value")
        self.search = page.labels.add_update(
            gr.Textbox(
                elem_id="search",
                label=t("search", DEFAULT_LANG),
                show_label=False,
                placeholder=t("search", DEFAULT_LANG),
                container=False,
                max_lines=1,
            ),
            lambda lang: gr.update(label=t("search", lang), placeholder=t("search", lang)),
        )
        self.conversations = gr.HTML(
            chat_list([], DEFAULT_LANG, None), elem_id="conversations", html_template=TEMPLATE, js_on_load=SCRIPT
        )
        self.title = gr.State("")  # the open conversation's title, as the list shows it

    def build_language(self) -> None:
        """The language switch, in the sidebar's foot; each language in its own name."""
        self.language = self.page.labels.add(
            gr.Radio(
                [("中文", "zh"), ("English", "en")],
                value=DEFAULT_LANG,
                elem_id="language",
                label=t("language", DEFAULT_LANG),
                show_label=False,
                container=False,
            ),
            "language",
        )

    def wire(self, chatbot: gr.Chatbot) -> None:
        page = self.page
        opened = [page.current, chatbot, self.title]
        listed = [self.conversations]
        page.blocks.load(
            self.on_load, [page.current], [page.current, *listed, chatbot, self.title], js=RECALL_OPEN_JS, **PRIVATE
        ).then(None, js=RELEASE_LOADED_SENDS, **PRIVATE)
        page.current.change(None, [page.current], None, js=REMEMBER_OPEN_JS, **PRIVATE)
        self.conversations.open(
            self.on_open, [self.search, page.lang], [*opened, *listed], js=HOLD_SENDS, **PRIVATE
        ).then(None, js=RELEASE_SENDS, **PRIVATE)
        self.conversations.rename(self.on_rename, [self.search, page.current, page.lang], listed, **PRIVATE)
        self.conversations.pin(self.on_pin, [self.search, page.current, page.lang], listed, **PRIVATE)
        self.conversations.delete(self.on_delete, [self.search, page.current, page.lang], [*opened, *listed], **PRIVATE)
        self.conversations.restore(
            self.on_restore, [self.search, page.current, page.lang], [*opened, *listed], **PRIVATE
        )
        # A message sent while New chat's event is on its way would go with the old chat's id
        # (the page's state changes when the event returns): Enter and Send wait for it (`HOLD_SENDS`).
        self.new.click(None, js=HOLD_SENDS, **PRIVATE).then(
            self.on_new, [self.search, page.lang], [*opened, *listed], **PRIVATE
        ).then(None, js=RELEASE_SENDS, **PRIVATE)
        # `.change`, not `.input`: Gradio sends no input event for keys that delete text, and
        # the list stayed filtered after the search box was emptied. Keys typed while a search
        # runs must not be dropped (the default mode): the text as it stands then is searched next.
        self.search.change(
            self.on_search, [self.search, page.current, page.lang], listed, trigger_mode="always_last", **PRIVATE
        )

    async def on_load(self, remembered: str, request: gr.Request) -> tuple[Any, ...]:
        """Open the conversation last open in this browser (`remembered`), or else the latest one,
        unless the user acted first (their chat stays as it is)."""
        page = self.page
        lang = await page.language(request)  # the page's language, which another load event is setting
        owner = await page.owner_of(request)
        conversations = await page.service.conversations(owner)
        if not conversations:  # nothing to restore: the page opens empty, its list in its language
            # ... unless the user acted meanwhile: a chat sent then is listed, not wiped by this list.
            listed = gr.skip() if request in page.acted else chat_list([], lang, None)
            return gr.skip(), listed, gr.skip(), gr.skip()
        latest = next((c for c in conversations if c.id == remembered), None)
        latest = latest or max(conversations, key=lambda c: c.updated_at)
        chat = await page.open(owner, latest.id, lang)
        if request in page.acted:  # checked last: the user may have acted while this load read
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return latest.id, chat_list(conversations, lang, latest.id), chat, latest.title

    async def on_select(self, conversation_id: str | None, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        page = self.page
        page.acted.mark(request, conversation_id or None)
        if not conversation_id:
            return None, [], ""
        owner = await page.owner_of(request)
        with shown(lang):
            info = await page.service.conversation(owner, conversation_id)
        return conversation_id, await page.open(owner, conversation_id, lang), info.title

    async def on_open(self, search: str, lang: Lang, event: gr.EventData, request: gr.Request) -> tuple[Any, ...]:
        picked = _picked(event, "id") or None
        opened = await self.on_select(picked, lang, request)
        return *opened, await self.page.sidebar(await self.page.owner_of(request), lang, picked, search)

    async def on_new(self, search: str, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        self.page.acted.mark(request, None)
        owner = await self.page.owner_of(request)
        return None, [], "", await self.page.sidebar(owner, lang, None, search)

    async def on_search(self, text: str, current: str | None, lang: Lang, request: gr.Request) -> Any:
        return await self.page.sidebar(await self.page.owner_of(request), lang, current, text)

    async def on_rename(
        self, search: str, current: str | None, lang: Lang, event: gr.EventData, request: gr.Request
    ) -> Any:
        owner = await self.page.owner_of(request)
        with shown(lang):
            await self.page.service.rename(owner, _picked(event, "id"), _picked(event, "title"))
        return await self.page.sidebar(owner, lang, current, search)

    async def on_pin(
        self, search: str, current: str | None, lang: Lang, event: gr.EventData, request: gr.Request
    ) -> Any:
        owner = await self.page.owner_of(request)
        with shown(lang):
            await self.page.service.pin(owner, _picked(event, "id"), (event._data or {}).get("pinned") is True)
        return await self.page.sidebar(owner, lang, current, search)

    async def on_delete(
        self, search: str, current: str | None, lang: Lang, event: gr.EventData, request: gr.Request
    ) -> tuple[Any, ...]:
        return await self.delete(_picked(event, "id"), current, search, lang, request)

    async def delete(
        self, picked: str, current: str | None, search: str, lang: Lang, request: gr.Request
    ) -> tuple[Any, ...]:
        """Delete a chat so that the list offers to bring it back (`on_restore`) for a while: the list's
        Delete and the chat's trash both. The open chat, the chat shown, its title, the list."""
        page = self.page
        owner = await page.owner_of(request)
        with shown(lang):
            deleted = await page.service.delete_undoably(owner, picked)
        page.keep(page.service.purge_deleted(UNDO_SECONDS + 1), "purge-deleted")
        was_open = picked == current
        undo = {"id": deleted.id, "title": deleted.title or t("untitled", lang), "open": was_open}
        listed = await page.sidebar(owner, lang, None if was_open else current, search) | {"deleted": undo}
        if not was_open:  # another chat went: the open one stays as it is
            return gr.skip(), gr.skip(), gr.skip(), listed
        page.acted.mark(request, None)
        return None, [], "", listed

    async def on_restore(
        self, search: str, current: str | None, lang: Lang, event: gr.EventData, request: gr.Request
    ) -> tuple[Any, ...]:
        """Undo: the deleted chat comes back, opened again if it was open when deleted."""
        page = self.page
        picked = _picked(event, "id")
        owner = await page.owner_of(request)
        with shown(lang):
            await page.service.restore(owner, picked)
        if (event._data or {}).get("open") is not True or current:  # another chat is open now: it stays
            return gr.skip(), gr.skip(), gr.skip(), await page.sidebar(owner, lang, current, search)
        opened = await self.on_select(picked, lang, request)
        return *opened, await page.sidebar(owner, lang, picked, search)
