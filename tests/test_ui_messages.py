"""The chat's messages in a real headless Chromium, in front of the fake engine: a new chat
taking the message sent right after it, and long messages folded."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, send

pytestmark = pytest.mark.browser


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


LONG = "\n\n".join(f"Line {n} of a long answer." for n in range(1, 61)) + "\n\nSo $x^2$ is \\boxed{4}."


async def test_a_long_message_folds_and_a_button_shows_it_all_in_the_pages_language(
    fake_page: Page, fake_app: FakeApp
) -> None:
    fake_app.fake.replies = [Reply(["hm"], [LONG])]
    page, chat = fake_page, fake_page.locator("#chat")
    await send(page, "a short question")
    await expect(chat).to_contain_text("Line 60 of a long answer.", timeout=10_000)
    answer = chat.locator(".bot-row .message > [data-testid]", has_text="Line 60")
    toggle = chat.locator(".bot-row .fold-toggle")
    await expect(answer).to_have_attribute("data-fold", "folded")
    await expect(toggle).to_have_text("显示更多")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    assert await answer.evaluate("e => e.clientHeight <= 400 && e.scrollHeight > 1.25 * e.clientHeight")
    await expect(chat.get_by_text("Line 60 of a long answer.")).not_to_be_in_viewport()
    await expect(chat.locator(".user-row .fold-toggle")).to_have_count(0)  # a short message stays whole
    # KaTeX's absolutely placed parts past the fold are clipped too: the chat scrolls over what it shows.
    folded_height = await chat.locator(".bubble-wrap").evaluate("e => e.scrollHeight")
    assert folded_height < await answer.evaluate("e => e.scrollHeight")

    await toggle.focus()
    await page.keyboard.press("Enter")  # a button: the keyboard works it
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(toggle).to_have_text("收起")
    assert await answer.evaluate("e => e.clientHeight === e.scrollHeight")
    await page.get_by_text("English", exact=True).click()
    await expect(toggle).to_have_text("Show less")
    await toggle.click()
    await expect(toggle).to_have_text("Show more")
    await expect(answer).to_have_attribute("data-fold", "folded")


async def test_the_answer_being_written_is_not_folded_until_it_is_done(fake_page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["hm"], [f"Line {n} of a long answer.\n\n" for n in range(1, 61)], interval=0.05)]
    page, chat = fake_page, fake_page.locator("#chat")
    long_question = "\n".join(f"question line {n}" for n in range(1, 41))
    await send(page, long_question)
    await expect(chat).to_contain_text("Line 40 of a long answer.", timeout=10_000)
    await expect(page.locator("#send")).to_be_disabled()  # still being written
    await expect(chat.locator(".user-row .fold-toggle")).to_have_count(1)  # the long question folds at once
    await expect(chat.locator(".bot-row .fold-toggle")).to_have_count(0)
    await expect(chat.get_by_text("Line 40 of a long answer.")).to_be_in_viewport()  # the view follows it
    await expect(page.locator("#send")).to_be_enabled(timeout=15_000)
    await expect(chat.locator(".bot-row .fold-toggle")).to_have_count(1)
    await expect(chat.locator(".bot-row .fold-toggle")).to_be_in_viewport()


async def test_a_message_sent_right_after_opening_a_chat_goes_to_that_chat(
    fake_page: Page, fake_app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_app.fake.replies = [Reply(["a"], ["Answer A."]), Reply(["b"], ["Answer B."]), Reply(["c"], ["Answer C."])]
    page, chat = fake_page, fake_page.locator("#chat")
    await send(page, "question A")
    await expect(chat).to_contain_text("Answer A.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled(timeout=10_000)
    await page.locator("#new-chat").click()
    await expect(chat).not_to_contain_text("Answer A.")
    await send(page, "question B")
    await expect(chat).to_contain_text("Answer B.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled(timeout=10_000)

    service = fake_app.service
    read = service.conversations

    async def slow_open(owner: str, search: str = "") -> Any:
        if sys._getframe(2).f_code.co_name == "on_open":  # the opened chat's list: it comes back late
            await asyncio.sleep(1.5)
        return await read(owner, search)

    monkeypatch.setattr(service, "conversations", slow_open)
    box = page.locator("#prompt textarea")
    await box.fill("question C")
    await page.locator("#conversations .chat-item", has_text="question A").click()
    await box.press("Enter")
    await expect(chat).to_contain_text("Answer C.", timeout=15_000)
    await expect(chat).to_contain_text("Answer A.")
    await expect(chat).not_to_contain_text("Answer B.")
    await page.locator("#conversations .chat-item", has_text="question B").click()
    await expect(chat).to_contain_text("Answer B.", timeout=10_000)
    await expect(chat).not_to_contain_text("question C")
