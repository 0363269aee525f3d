"""The usage table (admins): each owner's tokens over the last 30 days, and a user's own daily quota.

Built inside the admin tab (accounts on) or the status tab (accounts off, where the admin is
whoever is on this machine). Every handler checks for an admin again: hidden is not a permission.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import gradio as gr
import pandas as pd  # type: ignore[import-untyped]  # comes with gradio, without type stubs

from webapp.auth.accounts import owner_id
from webapp.auth.admin import require_admin
from webapp.chat.usage import UsageReport
from webapp.ui.context import PRIVATE, Page, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t

DAYS = 30
USAGE_COLUMNS = ("usage_user", "usage_today", "usage_prompt", "usage_completion", "usage_total", "usage_turns",
                 "usage_quota")  # fmt: skip
THIS_MACHINE = "this-machine"  # `/v1` without accounts (`webapp.web.openai_api.caller`)


def owner_label(owner: str, names: dict[str, str], lang: Lang) -> str:
    """A user by name; an owner without an account as what it is (an anonymous browser, this machine's clients)."""
    if owner in names:
        return names[owner]
    if owner == THIS_MACHINE:
        return t("usage_this_machine", lang)
    if owner.startswith("user:"):
        return t("usage_deleted_user", lang).format(owner=owner)
    return t("usage_browser", lang).format(id=owner[:8])


def usage_rows(report: UsageReport, names: dict[str, str], lang: Lang) -> pd.DataFrame:
    rows = [
        [owner_label(o.owner, names, lang), o.today_tokens, o.prompt_tokens, o.completion_tokens, o.total_tokens,
         o.turns, t("usage_no_quota", lang) if o.daily_quota is None else f"{o.daily_quota:,}"
         + (" *" if o.own_quota else "")]
        for o in report.owners
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=[t(key, lang) for key in USAGE_COLUMNS])


def usage_note(report: UsageReport, lang: Lang) -> str:
    resets = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.resets_at))
    return t("usage_note", lang).format(since=report.since, resets=resets)


class UsagePanel:
    """The table, and (with accounts) a user's own quota: set it, or back to DAILY_TOKENS_PER_USER."""

    def __init__(self, page: Page, *, quotas: bool) -> None:
        self.page = page
        labels = page.labels
        with gr.Accordion(t("usage_title", DEFAULT_LANG), open=True, elem_id="usage-panel") as box:
            labels.add(box, "usage_title")
            self.note = gr.Markdown(elem_id="usage-note")
            self.table = gr.Dataframe(
                pd.DataFrame([], columns=[t(key, DEFAULT_LANG) for key in USAGE_COLUMNS]),
                interactive=False,
                elem_id="usage-table",
            )
            self.refresh = labels.add(gr.Button(t("usage_refresh", DEFAULT_LANG), size="sm", elem_id="usage-refresh"),
                                      "usage_refresh", "value")  # fmt: skip
            if quotas:
                with gr.Row():
                    self.user = labels.add(
                        gr.Textbox(label=t("user_name", DEFAULT_LANG), max_lines=1, elem_id="quota-user"), "user_name"
                    )
                    self.quota = labels.add(
                        gr.Textbox(label=t("usage_quota_input", DEFAULT_LANG), max_lines=1, elem_id="quota-tokens"),
                        "usage_quota_input",
                    )  # fmt: skip
                with gr.Row():
                    self.set_quota = labels.add(
                        gr.Button(t("usage_set_quota", DEFAULT_LANG), size="sm", elem_id="set-quota"),
                        "usage_set_quota", "value",
                    )  # fmt: skip
                    self.reset_quota = labels.add(
                        gr.Button(t("usage_reset_quota", DEFAULT_LANG), size="sm", elem_id="reset-quota"),
                        "usage_reset_quota", "value",
                    )  # fmt: skip
        self._wire(quotas)

    async def _names(self) -> dict[str, str]:
        return {owner_id(u.id): u.name for u in await asyncio.to_thread(self.page.auth.accounts.users)}

    async def _shown(self, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        """The table and its note, for an admin; nothing for anyone else."""
        if not (await self.page.identity_of(request)).is_admin:
            return gr.skip(), gr.skip()
        report = await self.page.service.quotas.report(DAYS)
        return usage_note(report, lang), usage_rows(report, await self._names(), lang)

    async def _owner_named(self, name: str, lang: Lang) -> str:
        name = (name or "").strip()
        for owner, user in (await self._names()).items():
            if user == name:
                return owner
        raise gr.Error(t("usage_no_user", lang).format(name=name), title=t("error", lang), print_exception=False)

    def _wire(self, quotas: bool) -> None:
        page = self.page
        outputs = [self.note, self.table]

        async def on_load(request: gr.Request) -> tuple[Any, ...]:
            return await self._shown(await page.language(request), request)

        async def on_set(name: str, tokens: str, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
            typed = (tokens or "").strip().replace(",", "")
            with shown(lang):
                require_admin(await page.identity_of(request))
                # Empty: no quota for them; anything but a whole number is refused as the quota's range.
                quota: object = None if not typed else int(typed) if typed.isdigit() else typed
                await page.service.quotas.set(await self._owner_named(name, lang), quota)
            return await self._shown(lang, request)

        async def on_reset(name: str, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
            with shown(lang):
                require_admin(await page.identity_of(request))
                await page.service.quotas.reset(await self._owner_named(name, lang))
            return await self._shown(lang, request)

        quiet: dict[str, Any] = {"show_progress": "hidden", **PRIVATE}
        page.blocks.load(on_load, None, outputs, **quiet)
        page.lang.change(self._shown, [page.lang], outputs, **quiet)
        self.refresh.click(self._shown, [page.lang], outputs, **quiet)
        if quotas:
            self.set_quota.click(on_set, [self.user, self.quota, page.lang], outputs, **quiet)
            self.reset_quota.click(on_reset, [self.user, page.lang], outputs, **quiet)
