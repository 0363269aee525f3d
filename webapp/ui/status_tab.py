"""The status and log tab (admins only) and the loading banner above the chat (everyone)."""

from __future__ import annotations

from html import escape
from typing import Any

import gradio as gr

from webapp.auth.admin import restart_engine
from webapp.engine import logfile
from webapp.ui.context import PRIVATE, Page, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t
from webapp.ui.status_view import banner_markdown, phases_markdown, status_markdown

REFRESH_SECONDS = 2.0
LOG_LINES = 400


def download_link(lang: Lang) -> str:
    return f'<a href="/api/engine/log" download id="download-log">{escape(t("download_log", lang))}</a>'


def level_choices(lang: Lang) -> list[tuple[str, str]]:
    return [(t("log_all", lang), ""), ("INFO", "INFO"), ("WARNING", "WARNING"), ("ERROR", "ERROR")]


class StatusTab:
    """Built inside its tab, hidden until the page's load shows it to an admin; every handler checks again."""

    def __init__(self, page: Page, tab: gr.Tab, banner: gr.Markdown) -> None:
        self.page, self.tab, self.banner = page, tab, banner
        labels = page.labels
        with gr.Row():
            self.restart = labels.add(
                gr.Button(t("restart_engine", DEFAULT_LANG), elem_id="restart-engine", size="sm", scale=0),
                "restart_engine",
                "value",
            )
            self.restart_note = gr.Markdown(elem_id="restart-note")
        self.summary = gr.Markdown(elem_id="engine-summary")
        self.timeline = gr.Markdown(elem_id="engine-phases")
        with gr.Row():
            self.level = labels.add_update(
                gr.Dropdown(level_choices(DEFAULT_LANG), value="", label=t("log_level", DEFAULT_LANG), scale=1),
                lambda lang: gr.update(label=t("log_level", lang), choices=level_choices(lang)),
            )
            self.search = labels.add(gr.Textbox(label=t("log_search", DEFAULT_LANG), scale=3), "log_search")
            download = gr.HTML(download_link(DEFAULT_LANG))
            labels.add_update(download, lambda lang: gr.update(value=download_link(lang)))
        self.log = gr.Textbox(
            elem_id="engine-log", show_label=False, lines=20, max_lines=20, interactive=False, autoscroll=True
        )

    def wire(self) -> None:
        page = self.page
        inputs, outputs = self._io()
        gr.Timer(REFRESH_SECONDS).tick(self.on_tick, inputs, outputs, **PRIVATE)
        page.blocks.load(self.on_tick, inputs, outputs, **PRIVATE)
        page.blocks.load(self.on_load_access, None, [self.tab], **PRIVATE)
        self.level.change(self.on_tick, inputs, outputs, **PRIVATE)
        self.search.submit(self.on_tick, inputs, outputs, **PRIVATE)
        self.restart.click(self.on_restart, [page.lang], [self.restart_note], **PRIVATE)

    def _io(self) -> tuple[list[Any], list[Any]]:
        return [self.page.lang, self.level, self.search], [self.banner, self.summary, self.timeline, self.log]

    def refresh_after(self, event: Any) -> None:
        """Show the report again once `event` (the language switch) is over, rather than at the next tick."""
        event.then(self.on_tick, *self._io(), **PRIVATE)

    async def on_load_access(self, request: gr.Request) -> Any:
        return gr.update(visible=(await self.page.identity_of(request)).is_admin)

    async def on_tick(self, lang: Lang, level: str, search: str, request: gr.Request) -> tuple[Any, ...]:
        report = await self.page.monitor.report()
        engine = report.engine
        banner = gr.update(value=(text := banner_markdown(engine, lang)), visible=bool(text))
        if not (
            await self.page.identity_of(request)
        ).is_admin:  # everyone sees the loading banner; only admins the rest
            return banner, gr.skip(), gr.skip(), gr.skip()
        tail = await self.page.monitor.log_lines()
        log_text = "\n".join(logfile.view(tail, level=level or "", search=search or "", limit=LOG_LINES))
        return banner, status_markdown(engine, lang), phases_markdown(engine, lang), log_text

    async def on_restart(self, lang: Lang, request: gr.Request) -> str:
        who = await self.page.identity_of(request)
        with shown(lang):
            restart_engine(who, self.page.service.engine)
        return t("restarting", lang)
