"""The page's language: the reader's browser's at first, their choice once made (kept across reloads),
every word of its own in it, on every tab, refusals too."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, send

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
# Each language is named in its own script in the switch itself.
OWN_NAMES = ("中文",)
TABS = (("Chat", "#reset-settings"), ("Status & log", "#engine-log"), ("Evaluation", "#eval-run"))


async def words_shown(page: Page) -> str:
    text = await page.locator("body").inner_text()
    for name in OWN_NAMES:
        text = text.replace(name, "")
    return text


async def no_chinese_on_any_tab(page: Page) -> None:
    # Each tab, with a part of it that shows once its panel is rendered (the settings opened).
    for tab, part in TABS:
        await page.get_by_role("tab", name=tab).click()
        if tab == "Chat":
            await page.locator("#settings").click()
        await expect(page.locator(part)).to_be_visible()
        left = CJK.findall(await words_shown(page))
        assert not left, f"Chinese left in the {tab} tab: {''.join(left)}"


async def test_an_english_browser_gets_english_everywhere_and_after_a_reload(
    browser: Browser, fake_app: FakeApp
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = await context.new_page()
    try:
        await page.goto(fake_app.url)
        await expect(page.locator("#status-tab-button")).to_be_visible(timeout=15_000)  # this machine: admin
        await expect(page.locator("#send")).to_have_text("Send")  # from Accept-Language, with nothing chosen
        await no_chinese_on_any_tab(page)
        await page.reload()
        await expect(page.locator("#send")).to_have_text("Send")
        await expect(page.locator("#status-tab-button")).to_be_visible(timeout=15_000)
        await no_chinese_on_any_tab(page)
    finally:
        await context.close()


async def test_the_language_chosen_survives_a_reload(browser: Browser, fake_app: FakeApp) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    try:
        await page.goto(fake_app.url)
        await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)  # a Chinese browser
        await page.get_by_text("English", exact=True).click()
        await expect(page.locator("#send")).to_have_text("Send")
        await page.reload()
        await expect(page.locator("#send")).to_have_text("Send", timeout=15_000)
        await expect(page.get_by_role("tab", name="Status & log")).to_be_visible(timeout=15_000)
        await page.get_by_text("中文", exact=True).click()
        await expect(page.get_by_role("tab", name="对话")).to_be_visible()
        await page.reload()
        await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    finally:
        await context.close()


async def test_a_refusal_is_told_in_the_pages_language(browser: Browser, fake_app: FakeApp) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    try:
        await page.goto(fake_app.url)
        await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
        await page.locator("#send").click()  # nothing typed: refused by the service, in Chinese
        toast = page.locator(".toast-body")
        await expect(toast).to_contain_text("消息是空的，请先输入问题。", timeout=10_000)
        assert not re.search(r"[A-Za-z]", await toast.inner_text())
        await page.get_by_text("English", exact=True).click()
        await expect(page.locator("#send")).to_have_text("Send")
        await page.locator("#send").click()
        await expect(toast.last).to_contain_text("The message is empty. Type a question first.", timeout=10_000)
    finally:
        await context.close()


@pytest.mark.parametrize(("locale", "choice", "theirs"), [("en-US", "中文", "zh"), ("zh-CN", "English", "en")])
async def test_the_chats_own_buttons_follow_the_pages_language_not_the_browsers(
    browser: Browser, fake_app: FakeApp, locale: str, choice: str, theirs: str
) -> None:
    fake_app.fake.replies = [Reply(["t"], ["An answer to copy."])]
    context = await browser.new_context(locale=locale)
    page = await context.new_page()
    await page.goto(fake_app.url)
    await expect(page.locator("#send")).to_be_enabled(timeout=30_000)
    await page.locator("#language").get_by_text(choice).click()
    await expect(page.locator("#send")).to_have_text("发送" if theirs == "zh" else "Send")
    await send(page, "a question")
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("An answer to copy.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    names = " ".join(
        await chat.locator("button").evaluate_all(
            "(buttons) => buttons.map((b) => [b.getAttribute('aria-label'), b.title].join(' '))"
        )
    )
    assert names.strip(), "the chat shows its own buttons"
    assert bool(CJK.search(names)) is (theirs == "zh"), names
    await context.close()
