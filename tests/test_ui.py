"""The chat page in a real headless Chromium, against the real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import LiveApp
from webapp.tiny_model import REASONING_PIECES

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out from an offline machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
def requested_hosts() -> set[str]:
    """Every host the page sent a request to."""
    return set()


@pytest.fixture
async def page(browser: Browser, live_app: LiveApp, requested_hosts: set[str]) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    page.on("request", lambda request: requested_hosts.add(urlsplit(request.url).hostname or ""))
    await page.goto(live_app.url)
    yield page
    await context.close()


async def send(page: Page, text: str) -> None:
    box = page.locator("#prompt textarea")
    await box.fill(text)
    await box.press("Enter")


async def test_a_question_streams_its_thinking_and_answer(page: Page) -> None:
    await send(page, "你好")
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    await expect(chat.locator("strong")).to_have_text("Bold")  # markdown rendered
    await expect(chat.locator(".katex").first).to_be_visible()  # $x^2$ typeset
    thought = chat.get_by_text("思考过程")
    await expect(thought).to_be_visible()
    await thought.click()  # the finished thought block folds; opening it shows the reasoning
    await expect(chat).to_contain_text("".join(REASONING_PIECES))
    await expect(page.locator("#prompt textarea")).to_have_value("")


async def test_a_second_turn_works_and_the_page_stays_offline(page: Page, requested_hosts: set[str]) -> None:
    await send(page, "first")
    chat = page.locator("#chat")
    await expect(chat.get_by_text("Hello! I am a tiny scripted model.")).to_have_count(1, timeout=30_000)
    await send(page, "second")
    await expect(chat.get_by_text("Hello! I am a tiny scripted model.")).to_have_count(2, timeout=30_000)
    await expect(chat).not_to_contain_text("⚠️")
    assert requested_hosts == {"127.0.0.1"}  # no font, script or telemetry from the internet
