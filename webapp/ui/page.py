"""The Gradio chat page: each area is built where its handlers are (sidebar, conversation, settings,
share, status, users, evaluation); this module lays them out and switches their language."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.auth.authenticator import Authenticator
from webapp.chat.service import ChatService
from webapp.ops.status import StatusMonitor
from webapp.ui.account import build_account_controls, build_admin_tab, build_share_controls
from webapp.ui.context import PRIVATE, Page, shown
from webapp.ui.conversation import Conversation
from webapp.ui.empty_state import picked
from webapp.ui.evaluation import EvalTab
from webapp.ui.folding import FOLD_JS, LANG_JS
from webapp.ui.gradio_locale import GRADIO_LOCALE_JS
from webapp.ui.i18n import DEFAULT_LANG, Lang, t
from webapp.ui.live import ScriptedSend
from webapp.ui.settings_panel import SettingsPanel
from webapp.ui.sidebar import Sidebar
from webapp.ui.status_tab import StatusTab
from webapp.ui.temporary_chat import TemporaryChat
from webapp.ui.transfer import HistoryTransfer
from webapp.ui.usage_panel import UsagePanel
from webapp.ui.versions import VersionSwitch

# The sidebar overlays the page below this width (Gradio's own breakpoint): there it starts closed.
OPEN_SIDEBAR_WHEN_WIDE = """() => {
  if (!window.matchMedia('(min-width: 768px)').matches) return;
  const toggle = document.querySelector('.sidebar:not(.open) .toggle-button');
  if (toggle) toggle.click();
}"""


def build_ui(service: ChatService, auth: Authenticator, monitor: StatusMonitor) -> gr.Blocks:
    """The chat page, wired to `service`; `auth` says who each event comes from."""
    blocks = gr.Blocks(title="DeepSeek-R1 Chat", analytics_enabled=False)
    with blocks:
        # The open conversation's id ("": a new chat) is in the page, not a server-side state: the page's
        # script (`ui/live.py`) sends to it, and must see it change in the same update as the chat.
        current = gr.Textbox(elem_id="current", visible="hidden", container=False, show_label=False)
        page = Page(blocks, service, auth, monitor, gr.State(DEFAULT_LANG), current)
        labels = page.labels
        # Closed as built: a phone's first view is the chat and its message box; a wide screen opens it.
        with gr.Sidebar(elem_id="sidebar", open=False):
            temporary = TemporaryChat(page)  # first: a long chat list would push it out of sight
            sidebar = Sidebar(page)
            share_panel = gr.Accordion(t("share_panel", DEFAULT_LANG), open=False, elem_id="share-panel")
            with labels.add(share_panel, "share_panel"):
                labels.extend(build_share_controls(page))
            settings = SettingsPanel(page)
            transfer = HistoryTransfer(page)
            sidebar.build_language()
            if auth.required:
                labels.extend(build_account_controls(page))
        with gr.Tabs(elem_id="tabs"):
            chat_tab = labels.add(gr.Tab(t("chat_tab", DEFAULT_LANG), elem_id="chat-tab"), "chat_tab")
            # Hidden until the page load shows it to an admin: Gradio 6.31 can show a hidden tab
            # from an event, but an update cannot hide the button of a shown one.
            status_tab = labels.add(
                gr.Tab(t("status_tab", DEFAULT_LANG), elem_id="status-tab", visible=False), "status_tab"
            )
            if auth.required:
                labels.extend(build_admin_tab(page))
            EvalTab(page).wire()
        with chat_tab:
            temporary.build_chat()
            with gr.Column(elem_id="saved-chat") as saved_chat:
                conversation = Conversation(page)
                versions = VersionSwitch(page)
                live = ScriptedSend(page)
        with status_tab:
            status = StatusTab(page, status_tab, conversation.banner)
            if not auth.required:  # the admin is whoever is on this machine: no users tab
                UsagePanel(page, quotas=False)
        blocks.load(None, None, None, js=OPEN_SIDEBAR_WHEN_WIDE, **PRIVATE)
        blocks.load(None, None, None, js=FOLD_JS, **PRIVATE)
        sidebar.wire(conversation.chatbot)
        transfer.wire(sidebar.search, sidebar.conversations)
        conversation.wire(sidebar, settings.sampling)
        versions.wire(conversation.chatbot)
        live.wire(conversation.chatbot, conversation.send, conversation.resume, [sidebar.conversations, sidebar.title])
        settings.wire(sidebar, conversation.chatbot)
        temporary.wire(saved_chat, settings.sampling)
        conversation.feedback.wire(conversation.chatbot)
        status.wire()
        conversation.chatbot.example_select(picked, [page.lang], [conversation.box, settings.math], **PRIVATE)
        for relabelled in switch_language(page, sidebar, conversation.chatbot):
            status.refresh_after(relabelled)
    return blocks


# The choice is kept with the owner's settings, and in this browser for the sign-in page (`webapp/language.py`).
REMEMBER_LANGUAGE_JS = (
    "(lang) => { document.cookie = `lang=${lang}; path=/; max-age=31536000; samesite=lax`; return lang; }"
)


def switch_language(page: Page, sidebar: Sidebar, chatbot: gr.Chatbot) -> tuple[Any, Any]:
    """The page opens in the reader's language; their choice relabels every registered component,
    and shows the chat and its list again in it. Returns both events (the opening, the switch): what
    the page's other loads drew in the built language is drawn again after each."""
    components = page.labels.components

    async def relabel(choice: Lang, request: gr.Request) -> list[Any]:
        with shown(choice):
            await page.service.save_language(await page.owner_of(request), choice)  # theirs, on every device
        return [choice, *page.labels.updates(choice)]

    async def on_load(request: gr.Request) -> list[Any]:
        chosen = await page.language(request)
        if chosen == DEFAULT_LANG:  # the page is built in it
            return [gr.skip()] * (2 + len(components))
        return [chosen, chosen, *page.labels.updates(chosen)]

    opened = page.blocks.load(on_load, None, [page.lang, sidebar.language, *components], **PRIVATE)
    opened.then(None, [sidebar.language], None, js=LANG_JS, **PRIVATE)
    opened.then(None, [sidebar.language], None, js=GRADIO_LOCALE_JS, **PRIVATE)
    listed = (sidebar.on_search, [sidebar.search, page.current, page.lang], [sidebar.conversations])
    # `.input`: the load's choice above is not a switch (it has nothing to show again).
    switched = sidebar.language.input(
        relabel, [sidebar.language], [page.lang, *components], js=REMEMBER_LANGUAGE_JS, **PRIVATE
    )
    switched.then(None, [sidebar.language], None, js=LANG_JS, **PRIVATE)
    switched.then(None, [sidebar.language], None, js=GRADIO_LOCALE_JS, **PRIVATE)
    switched.then(*listed, **PRIVATE)
    return opened, switched.then(
        sidebar.on_select, [page.current, page.lang], [page.current, chatbot, sidebar.title], **PRIVATE
    )
