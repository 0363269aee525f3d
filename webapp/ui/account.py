"""The page's parts for sharing, signing out, API tokens and user admin (thin, like `ui`).

Each `build_*` adds its components to the Blocks being built and returns the
labels to switch when the language changes. Every handler checks who is asking
again: a hidden component is not a permission.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from html import escape
from typing import Any

import gradio as gr
import pandas as pd  # type: ignore[import-untyped]  # comes with gradio, without type stubs

from webapp.auth.accounts import Identity
from webapp.auth.admin import delete_user, require_admin
from webapp.db.records import ShareInfo
from webapp.ui.context import PRIVATE, Page, refusal, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t
from webapp.ui.usage_panel import UsagePanel

# (component, text key, property): what the language switch sets (`Labels.extend`).
Labels = list[tuple[Any, str, str]]
SIGN_OUT_JS = "async () => { await fetch('/logout', {method: 'POST'}); window.location.href = '/login'; }"


def _stamp(seconds: float | None, lang: Lang) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else t("never", lang)


def absolute(url: str, request: gr.Request) -> str:
    """A share path as the full address this page was reached at (behind a proxy or tunnel too)."""
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    scheme = headers.get("x-forwarded-proto") or "http"
    return f"{scheme}://{host}{url}"


def table(rows: list[list[Any]], columns: tuple[str, ...], lang: Lang) -> pd.DataFrame:
    """Rows under their columns' names in `lang` (a table's headers travel with its rows)."""
    return pd.DataFrame(rows, columns=[t(key, lang) for key in columns])


TOKEN_COLUMNS = ("token_id", "token_name_col", "created")
USER_COLUMNS = ("user_name", "is_admin", "managed_by", "disabled", "created")


def expiry_choices(lang: Lang) -> list[tuple[str, int]]:
    return [(t("never", lang), 0), *[(t("days", lang).format(n=n), n) for n in (1, 7, 30)]]


def build_share_controls(page: Page) -> Labels:
    """Under the chat: share the current conversation, stop sharing it, and the list of one's links."""
    blocks, service, identity_of, current, lang = page.blocks, page.service, page.identity_of, page.current, page.lang

    def rows(shares: list[ShareInfo], request: gr.Request, language: Lang) -> str:
        """One's links as a list: each title a link to its page, its address and expiry in full (escaped)."""
        items = "".join(
            f'<li><a href="{escape(absolute(s.url, request))}" target="_blank" rel="noopener noreferrer">'
            f"{escape(s.title or t('untitled', language))}</a>"
            f'<span class="share-url">{escape(absolute(s.url, request))}</span>'
            f'<span class="share-expiry">{escape(t("share_expiry", language))}: '
            f"{escape(_stamp(s.expires_at, language))}</span></li>"
            for s in shares
        )
        return f'<ul class="share-list">{items}</ul>' if items else ""

    async def on_share(conversation: str | None, days: int, language: Lang, request: gr.Request) -> tuple[Any, ...]:
        if not conversation:
            raise refusal(t("no_conversation", language), language)
        owner = (await identity_of(request)).owner
        with shown(language):
            info = await service.share(owner, conversation, int(days) or None)
        return absolute(info.url, request), rows(await service.shares(owner), request, language)

    async def on_unshare(conversation: str | None, language: Lang, request: gr.Request) -> tuple[Any, ...]:
        owner = (await identity_of(request)).owner
        if conversation:
            with shown(language):
                await service.unshare(owner, conversation)
        return "", rows(await service.shares(owner), request, language)

    async def on_current(conversation: str | None, language: Lang, request: gr.Request) -> tuple[Any, ...]:
        """The link of the conversation now shown, if it has one; and the list."""
        shares = await service.shares((await identity_of(request)).owner)
        mine = next((s for s in shares if s.conversation_id == conversation), None)
        return (absolute(mine.url, request) if mine else ""), rows(shares, request, language)

    async def on_load(conversation: str | None, request: gr.Request) -> tuple[Any, ...]:
        return await on_current(
            conversation, await page.language(request), request
        )  # the page's language is set meanwhile

    with gr.Row(equal_height=True):
        expiry = page.labels.add_update(
            gr.Dropdown(
                expiry_choices(DEFAULT_LANG),
                value=0,
                label=t("share_expiry", DEFAULT_LANG),
                elem_id="share-expiry",
                scale=1,
            ),
            lambda language: gr.update(label=t("share_expiry", language), choices=expiry_choices(language)),
        )
        share = gr.Button(t("share", DEFAULT_LANG), elem_id="share", size="sm", scale=1)
        unshare = gr.Button(t("unshare", DEFAULT_LANG), elem_id="unshare", size="sm", scale=1)
        link = gr.Textbox(
            label=t("share_link", DEFAULT_LANG), elem_id="share-link", interactive=False, buttons=["copy"], scale=4
        )
    with gr.Accordion(t("shared_links", DEFAULT_LANG), open=False, elem_id="shared-links") as links_box:
        links = gr.HTML(elem_id="shared-links-table")
    share.click(on_share, [current, expiry, lang], [link, links], **PRIVATE)
    unshare.click(on_unshare, [current, lang], [link, links], **PRIVATE)
    for changed in (current, lang):  # another chat shown, or the list's words in another language
        changed.change(on_current, [current, lang], [link, links], **PRIVATE)
    blocks.load(on_load, [current], [link, links], **PRIVATE)
    return [(share, "share", "value"), (unshare, "unshare", "value"),
            (link, "share_link", "label"), (links_box, "shared_links", "label")]  # fmt: skip


def build_account_controls(page: Page) -> Labels:
    """In the sidebar, with accounts on: who is signed in, sign out, and API tokens."""
    blocks, identity_of, lang, accounts = page.blocks, page.identity_of, page.lang, page.auth.accounts

    async def token_rows(who: Identity, language: Lang) -> pd.DataFrame:
        rows = await asyncio.to_thread(accounts.tokens, who)
        listed = [[row["id"], row["name"], _stamp(row["created_at"], language)] for row in rows]
        return table(listed, TOKEN_COLUMNS, language)

    async def on_load(request: gr.Request) -> tuple[Any, ...]:
        who = await identity_of(request)
        # A name reads the same in every language.
        return f"**{who.name}**", await token_rows(who, await page.language(request))

    async def on_create(name: str, language: Lang, request: gr.Request) -> tuple[Any, ...]:
        who = await identity_of(request)
        made = await asyncio.to_thread(accounts.create_token, who, (name or "").strip()[:100])
        return made["token"], await token_rows(who, language)

    async def on_revoke(token_id: float | None, language: Lang, request: gr.Request) -> Any:
        who = await identity_of(request)
        with shown(language):
            await asyncio.to_thread(accounts.revoke_token, who, int(token_id or 0))
        return await token_rows(who, language)

    async def on_language(language: Lang, request: gr.Request) -> Any:
        return await token_rows(await identity_of(request), language)

    who_md = gr.Markdown(elem_id="signed-in-as")
    sign_out = gr.Button(t("sign_out", DEFAULT_LANG), elem_id="sign-out", size="sm")
    with gr.Accordion(t("api_tokens", DEFAULT_LANG), open=False, elem_id="api-tokens") as tokens_box:
        token_name = gr.Textbox(label=t("token_name", DEFAULT_LANG), max_lines=1, elem_id="token-name")
        create = gr.Button(t("create_token", DEFAULT_LANG), size="sm", elem_id="create-token")
        new_token = gr.Textbox(
            label=t("new_token", DEFAULT_LANG), interactive=False, buttons=["copy"], elem_id="new-token"
        )
        tokens = gr.Dataframe(table([], TOKEN_COLUMNS, DEFAULT_LANG), interactive=False, elem_id="tokens")
        with gr.Row():
            token_id = gr.Number(label=t("token_id", DEFAULT_LANG), precision=0, minimum=0, elem_id="token-id")
            revoke = gr.Button(t("revoke", DEFAULT_LANG), size="sm", variant="stop", elem_id="revoke-token")
    blocks.load(on_load, None, [who_md, tokens], **PRIVATE)
    sign_out.click(None, js=SIGN_OUT_JS)
    create.click(on_create, [token_name, lang], [new_token, tokens], **PRIVATE)
    lang.change(on_language, [lang], [tokens], **PRIVATE)
    revoke.click(on_revoke, [token_id, lang], [tokens], **PRIVATE)
    return [(sign_out, "sign_out", "value"), (tokens_box, "api_tokens", "label"), (token_name, "token_name", "label"),
            (create, "create_token", "value"), (new_token, "new_token", "label"), (token_id, "token_id", "label"),
            (revoke, "revoke", "value")]  # fmt: skip


def build_admin_tab(page: Page) -> Labels:
    """The users tab (admins only, with accounts on): list, create, delete, set a password, sign out everywhere.

    Users from the configuration are listed as such; the accounts refuse to change or delete them here.
    """
    blocks, auth, identity_of, accounts, lang = page.blocks, page.auth, page.identity_of, page.auth.accounts, page.lang

    async def admin_of(request: gr.Request, language: Lang) -> Identity:
        who = await identity_of(request)
        with shown(language):
            return require_admin(who)

    async def user_rows(language: Lang) -> pd.DataFrame:
        listed = [
            [u.name, "✓" if u.is_admin else "", t(f"managed_{u.managed_by}", language), "✓" if u.disabled else "",
             _stamp(u.created_at, language)]
            for u in await asyncio.to_thread(accounts.users)
        ]  # fmt: skip
        return table(listed, USER_COLUMNS, language)

    async def on_load(request: gr.Request) -> tuple[Any, ...]:
        who = await identity_of(request)
        return gr.update(visible=who.is_admin), (await user_rows(await page.language(request)) if who.is_admin else [])

    async def on_language(language: Lang, request: gr.Request) -> Any:
        return await user_rows(language) if (await identity_of(request)).is_admin else gr.skip()

    async def run(request: gr.Request, language: Lang, action: Callable[[], object], name: str) -> tuple[Any, ...]:
        """Do `action` and list the users again; refused, a toast says why and the table stays as it was."""
        await admin_of(request, language)
        with shown(language):
            await asyncio.to_thread(action)
        auth.forget_user(name)
        return await user_rows(language), ""

    async def on_create(name: str, password: str, is_admin: bool, language: Lang, request: gr.Request) -> Any:
        name = (name or "").strip()
        return await run(request, language, lambda: accounts.create_user(name, password or "", is_admin=is_admin), name)

    async def on_delete(name: str, language: Lang, request: gr.Request) -> tuple[Any, ...]:
        name = (name or "").strip()
        who = await admin_of(request, language)
        return await run(request, language, lambda: delete_user(accounts, who, name), name)

    async def on_password(name: str, password: str, language: Lang, request: gr.Request) -> tuple[Any, ...]:
        name = (name or "").strip()
        return await run(request, language, lambda: accounts.set_password(name, password or ""), name)

    async def on_sign_out(name: str, language: Lang, request: gr.Request) -> tuple[Any, ...]:
        name = (name or "").strip()
        return await run(request, language, lambda: accounts.sign_out_everywhere(name), name)

    with gr.Tab(t("admin_tab", DEFAULT_LANG), elem_id="admin-tab", visible=False) as tab:
        note = gr.Markdown(t("users_note", DEFAULT_LANG), elem_id="users-note")
        users = gr.Dataframe(table([], USER_COLUMNS, DEFAULT_LANG), interactive=False, elem_id="users")
        with gr.Row():
            name = gr.Textbox(label=t("user_name", DEFAULT_LANG), max_lines=1, elem_id="user-name")
            password = gr.Textbox(label=t("password", DEFAULT_LANG), type="password", elem_id="user-password")
            is_admin = gr.Checkbox(label=t("is_admin", DEFAULT_LANG), elem_id="user-is-admin")
        with gr.Row():
            create = gr.Button(t("create_user", DEFAULT_LANG), variant="primary", size="sm", elem_id="create-user")
            set_password = gr.Button(t("set_password", DEFAULT_LANG), size="sm", elem_id="set-password")
            delete = gr.Button(t("delete_user", DEFAULT_LANG), variant="stop", size="sm", elem_id="delete-user")
            sign_out = gr.Button(t("sign_out_everywhere", DEFAULT_LANG), size="sm", elem_id="sign-out-everywhere")
        UsagePanel(page, quotas=True)
    blocks.load(on_load, None, [tab, users], **PRIVATE)
    lang.change(on_language, [lang], [users], **PRIVATE)
    # No progress shown on the table: a refused action would mark it "Error" in red over the users.
    quiet: dict[str, Any] = {"show_progress": "hidden", **PRIVATE}
    create.click(on_create, [name, password, is_admin, lang], [users, password], **quiet)
    delete.click(on_delete, [name, lang], [users, password], **quiet)
    set_password.click(on_password, [name, password, lang], [users, password], **quiet)
    sign_out.click(on_sign_out, [name, lang], [users, password], **quiet)
    return [(tab, "admin_tab", "label"), (name, "user_name", "label"), (password, "password", "label"),
                 (is_admin, "is_admin", "label"), (create, "create_user", "value"),
                 (set_password, "set_password", "value"), (delete, "delete_user", "value"),
                 (sign_out, "sign_out_everywhere", "value"), (note, "users_note", "value")]  # fmt: skip
