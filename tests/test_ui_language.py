"""The language switch relabels the whole page: every word of its own, in every tab."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.helpers import FakeApp

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
# Each language is named in its own script in the switch itself.
OWN_NAMES = ("中文",)


async def words_shown(page: Page) -> str:
    text = await page.locator("body").inner_text()
    for name in OWN_NAMES:
        text = text.replace(name, "")
    return text


async def test_english_leaves_no_chinese_in_any_tab(browser: Browser, fake_app: FakeApp) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(fake_app.url)
        await expect(page.locator("#status-tab-button")).to_be_visible(timeout=15_000)  # this machine: admin
        assert CJK.search(await words_shown(page))  # Chinese by default
        await page.get_by_text("English", exact=True).click()
        await expect(page.locator("#send")).to_have_text("Send")
        # Each tab, with a part of it that shows once its panel is rendered (the settings opened).
        for tab, part in (("Chat", "#reset-settings"), ("Status & log", "#engine-log"), ("Evaluation", "#eval-run")):
            await page.get_by_role("tab", name=tab).click()
            if tab == "Chat":
                await page.locator("#settings").click()
            await expect(page.locator(part)).to_be_visible()
            left = CJK.findall(await words_shown(page))
            assert not left, f"Chinese left in the {tab} tab: {''.join(left)}"
        await page.get_by_text("中文", exact=True).click()
        await expect(page.get_by_role("tab", name="对话")).to_be_visible()
        await expect(page.locator("#send")).to_have_text("发送")
    finally:
        await context.close()
