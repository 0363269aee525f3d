"""The conversation list's menu in a real Chromium (the app on the fake engine): pin to top,
with the mouse and the keyboard, kept across reloads and in the REST API; delete, with an undo
that brings the chat back whole, and without it the chat gone from the database file."""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, chat_menu, delete_chat, send, until

pytestmark = pytest.mark.browser


async def listed_chats(page: Page, url: str, *titles: str) -> list[str]:
    """Make chats titled `titles` (oldest first) for the page's owner, and show them in its list."""
    made = []
    for title in titles:
        response = await page.request.post(f"{url}/api/conversations", data={"title": title})
        assert response.status == 201
        made.append((await response.json())["id"])
    await page.reload()
    await expect(page.locator("#conversations .chat-item")).to_have_count(len(titles), timeout=15_000)
    return made


async def groups(page: Page) -> list[tuple[str, list[str]]]:
    """The list as shown: each group's name and its chats' titles."""
    shown: list[dict[str, Any]] = await page.locator("#conversations [role=group]").evaluate_all(
        """(groups) => groups.map((group) => ({
          name: group.getAttribute('aria-label'),
          titles: [...group.querySelectorAll('.chat-title')].map((title) => title.textContent),
        }))"""
    )
    return [(group["name"], group["titles"]) for group in shown]


async def test_a_chat_pinned_from_its_menu_leads_the_list_until_unpinned_by_keys(
    fake_page: Page, fake_app: FakeApp
) -> None:
    page = fake_page
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    first, _ = await listed_chats(page, fake_app.url, "older chat", "newer chat")
    assert await groups(page) == [("今天", ["newer chat", "older chat"])]
    await chat_menu(page, "older chat", ".chat-pin")
    await expect(page.locator("#conversations [role=group]").first).to_have_attribute("aria-label", "已置顶")
    assert await groups(page) == [("已置顶", ["older chat"]), ("今天", ["newer chat"])]
    listed = await (await page.request.get(f"{fake_app.url}/api/conversations")).json()
    assert (listed[0]["id"], listed[0]["pinned"]) == (first, True)
    await page.reload()
    await expect(page.locator("#conversations [role=group]").first).to_have_attribute("aria-label", "已置顶")

    item = page.locator("#conversations .chat-item", has_text="older chat")
    await item.focus()
    await page.keyboard.press("Shift+F10")  # the menu, its first entry focused
    entry = page.locator(".chat-menu [role=menuitem]:focus")
    await expect(entry).to_have_text("取消置顶")
    await page.keyboard.press("ArrowUp")  # round to the last
    await expect(entry).to_have_text("删除")
    await page.keyboard.press("Escape")  # closed, the focus back on the chat
    await expect(page.locator(".chat-menu")).to_have_count(0)
    await expect(item).to_be_focused()
    await page.keyboard.press("Shift+F10")
    await page.keyboard.press("Enter")
    await expect(page.locator("#conversations [role=group]")).to_have_count(1)
    assert await groups(page) == [("今天", ["newer chat", "older chat"])]

    await page.locator("#language").get_by_text("English").click()
    await expect(page.locator("#conversations [role=group]")).to_have_attribute("aria-label", "Today")
    await page.locator("#conversations .chat-item", has_text="newer chat").hover()
    await page.locator("#conversations .chat-item", has_text="newer chat").locator(".chat-more").click()
    names = await page.locator(".chat-menu [role=menuitem]").all_inner_texts()
    assert names == ["Pin to top", "Rename", "Share", "Export Markdown", "Export JSON", "Delete"]


def stored_rows(fake_app: FakeApp, title: str) -> list[int]:
    """The chat's rows in the app's SQLite file: its conversation and its messages."""
    path = fake_app.service.store.database.sql.url.database
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM conversations WHERE title = ?", (title,))]
        messages = db.execute(
            f"SELECT count(*) FROM messages WHERE conversation_id IN ({','.join('?' * len(ids))})", ids
        ).fetchone()[0]
    return [len(ids), messages]


async def test_a_chat_deleted_from_the_list_comes_back_with_undo_and_is_gone_for_good_without(
    fake_page: Page, fake_app: FakeApp
) -> None:
    page, title = fake_page, "a chat to bring back"
    fake_app.fake.replies = [Reply(["t"], ["Kept whole."])]
    chat, listed, bar = page.locator("#chat"), page.locator("#conversations"), page.locator(".chat-undo")
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await send(page, title)
    await expect(chat).to_contain_text("Kept whole.", timeout=10_000)
    await delete_chat(page, title)
    await expect(listed).not_to_contain_text(title, timeout=10_000)
    await expect(chat).not_to_contain_text("Kept whole.")  # it was the open chat
    await expect(bar).to_contain_text(f"已删除“{title}”")
    await expect(bar.get_by_role("button", name="撤销")).to_be_focused()
    await page.keyboard.press("Enter")  # undo
    await expect(bar).to_have_count(0)
    await expect(listed).to_contain_text(title, timeout=10_000)
    await expect(chat).to_contain_text("Kept whole.")  # open again, its messages with it
    assert stored_rows(fake_app, title) == [1, 2]

    await delete_chat(page, title)
    await expect(bar).to_be_visible()
    await expect(bar).to_have_count(0, timeout=15_000)  # the undo time is over
    await until(lambda: stored_rows(fake_app, title), lambda rows: rows == [0, 0], within=10)
    await page.reload()
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await expect(listed).not_to_contain_text(title)


async def test_the_open_chat_is_not_deleted_while_its_answer_is_written_and_is_once_stopped(
    fake_page: Page, fake_app: FakeApp
) -> None:
    page, title = fake_page, "a long answer to delete"
    fake_app.fake.replies = [Reply(["t "] * 3, ["word "] * 3000, interval=0.01)]
    chat, listed = page.locator("#chat"), page.locator("#conversations")
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await send(page, title)
    await expect(chat).to_contain_text("word word", timeout=10_000)
    await delete_chat(page, title)
    await expect(page.locator(".toast-body")).to_contain_text("请先停止它，再删除对话", timeout=10_000)
    await expect(listed).to_contain_text(title)
    await expect(page.locator(".chat-undo")).to_have_count(0)  # nothing was deleted: nothing to undo
    await expect(chat).to_contain_text("word word")
    await page.locator("#stop").click()
    await expect(chat).to_contain_text("已停止", timeout=10_000)
    await delete_chat(page, title)
    await expect(listed).not_to_contain_text(title, timeout=10_000)
    await expect(page.locator(".chat-undo")).to_be_visible()


async def test_share_in_a_chats_menu_opens_it_beside_the_share_panel_whose_list_shows_the_link_in_full(
    fake_page: Page, fake_app: FakeApp
) -> None:
    page = fake_page
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await listed_chats(page, fake_app.url, "a chat to share", "the open chat")
    await expect(page.locator("#conversations .chat-item.current")).to_contain_text("the open chat")
    await chat_menu(page, "a chat to share", ".chat-share")
    await expect(page.locator("#conversations .chat-item.current")).to_contain_text("a chat to share")
    await expect(page.locator("#share")).to_be_focused()
    await page.locator("#share-expiry input").click()
    await page.get_by_role("option", name="7 天").click()
    await page.locator("#share").click()
    link = page.locator("#share-link textarea, #share-link input").first
    await expect(link).to_have_value(re.compile(r"/s/[\w-]{40,}$"), timeout=10_000)
    shared = await link.input_value()
    listed = await (await page.request.get(f"{fake_app.url}/api/shares")).json()
    assert [(s["title"], s["url"]) for s in listed] == [("a chat to share", shared.removeprefix(fake_app.url))]
    expires = time.strftime("%Y-%m-%d %H:%M", time.localtime(listed[0]["expires_at"]))
    await page.locator("#shared-links").locator("button").first.click()
    item = page.locator("#shared-links-table li", has_text=shared)
    await expect(item.locator(f'a[href="{shared}"]')).to_have_text("a chat to share")
    await expect(item).to_contain_text(f"有效期: {expires}")  # the date and time, in full


async def test_a_reload_opens_the_chat_last_open_not_the_pinned_one_listed_first(
    fake_page: Page, fake_app: FakeApp
) -> None:
    page, chat = fake_page, fake_page.locator("#chat")
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    fake_app.fake.replies = [Reply(["t"], ["Answer one."]), Reply(["t"], ["Answer two."])]
    await send(page, "chat one")
    await expect(chat).to_contain_text("Answer one.", timeout=10_000)
    await page.locator("#new-chat").click()
    await expect(chat).not_to_contain_text("Answer one.")
    await send(page, "chat two")
    await expect(chat).to_contain_text("Answer two.", timeout=10_000)
    await expect(page.locator("#conversations .chat-item.current")).to_contain_text("chat two", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await chat_menu(page, "chat one", ".chat-pin")  # listed first from now on
    await expect(page.locator("#conversations .chat-item").first).to_contain_text("chat one", timeout=10_000)
    await page.evaluate("localStorage.clear()")  # as in a browser that has noted no chat: the newest activity
    await page.reload()
    await expect(chat).to_contain_text("Answer two.", timeout=15_000)
    await expect(page.locator("#conversations .chat-item.current")).to_contain_text("chat two")

    await page.locator("#conversations .chat-item", has_text="chat one").click()  # read an older chat
    await expect(chat).to_contain_text("Answer one.", timeout=10_000)
    opened = await page.locator("#current textarea").input_value()
    await page.wait_for_function("(id) => localStorage.getItem('r1chat.open') === id", arg=opened)  # noted
    await page.reload()
    await expect(chat).to_contain_text("Answer one.", timeout=15_000)  # the reload keeps it open
    await expect(chat).not_to_contain_text("Answer two.")


LONG_EN = "Please explain in simple words why the sky looks blue during the day and red at sunset"
LONG_ZH = "请用简单的话解释为什么白天的天空是蓝色的而日落时是红色的，并且说明光的散射原理、大气层的作用以及其他相关的物理现象，谢谢你们"


async def test_a_long_first_message_titles_its_chat_cut_at_a_word_and_the_list_ellipsises_it(
    fake_page: Page, fake_app: FakeApp
) -> None:
    page = fake_page
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    fake_app.fake.replies = [Reply(["t"], ["Blue."])]
    titles = page.locator("#conversations .chat-title")
    await send(page, LONG_EN)
    await expect(titles.first).to_have_text("Please explain in simple words why the sky looks blue…", timeout=10_000)
    # The sidebar is narrower than the title: the list ends it with an ellipsis of its own.
    clipped = await titles.first.evaluate(
        "e => getComputedStyle(e).textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth"
    )
    assert clipped, "the list's title is not ellipsised"
    await page.locator("#new-chat").click()
    await send(page, LONG_ZH)  # no spaces: cut at a character
    await expect(titles.first).to_have_text(LONG_ZH[:59] + "…", timeout=10_000)
