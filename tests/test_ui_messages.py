"""The chat's messages in a real headless Chromium, in front of the fake engine: a new chat
taking the message sent right after it, and long messages folded."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, send

pytestmark = pytest.mark.browser


@pytest.fixture
async def fake_page(browser: Browser, fake_app: FakeApp) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(fake_app.url)
    yield page
    await context.close()


async def test_a_message_sent_right_after_new_chat_goes_to_the_new_chat(
    fake_page: Page, fake_app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New chat's event is still on its way when Enter is pressed: the message waits for it."""
    fake_app.fake.replies = [Reply(["hm"], ["An earlier answer."]), Reply(["ok"], ["A fresh answer."])]
    page, chat = fake_page, fake_page.locator("#chat")
    await send(page, "an earlier question")
    await expect(chat).to_contain_text("An earlier answer.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled(timeout=10_000)

    service = fake_app.service
    read = service.conversations

    async def slow_new_chat(owner: str, search: str = "") -> Any:
        if sys._getframe(2).f_code.co_name == "on_new":  # New chat's list: it comes back late
            await asyncio.sleep(1.5)
        return await read(owner, search)

    monkeypatch.setattr(service, "conversations", slow_new_chat)
    box = page.locator("#prompt textarea")
    await box.fill("a fresh question")
    await page.locator("#new-chat").click()
    await box.press("Enter")
    await expect(chat).to_contain_text("A fresh answer.", timeout=15_000)
    await expect(chat).not_to_contain_text("An earlier answer.")
    await expect(page.locator("#conversations .chat-item")).to_have_count(2, timeout=10_000)
    await page.locator("#conversations .chat-item", has_text="an earlier question").click()
    await expect(chat).to_contain_text("An earlier answer.", timeout=10_000)
    await expect(chat).not_to_contain_text("a fresh question")
