"""👍/👎 on an answer in Chromium: kept with a note, shown again after a reload, changeable (a fake engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import free_port, make_settings, running, send

pytestmark = pytest.mark.browser


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    fake = FakeEngine([Reply(["hm"], ["Four, I think."])])
    with (
        serve_fake(fake) as engine_url,
        running(make_settings(vllm_base_url=engine_url, port=free_port(), data_dir=tmp_path)) as app_url,
    ):
        yield app_url


async def ratings(page: Page, url: str) -> list[dict[str, object]]:
    conversations = await (await page.request.get(f"{url}/api/conversations")).json()
    found: list[dict[str, object]] = await (
        await page.request.get(f"{url}/api/conversations/{conversations[0]['id']}/feedback")
    ).json()
    return found


async def test_a_thumb_and_a_note_are_kept_shown_after_reload_and_changed(browser: Browser, url: str) -> None:
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        await page.goto(url)
        await send(page, "2+2?")
        chat = page.locator("#chat")
        await expect(chat).to_contain_text("Four, I think.", timeout=30_000)
        await chat.locator('button[aria-label="Like"]').click()
        note = page.locator("#feedback-note textarea, #feedback-note input").first
        await expect(note).to_be_visible(timeout=10_000)
        await note.fill("right, but hesitant")
        await page.locator("#feedback-save").click()
        await expect(page.locator("#feedback-row")).to_be_hidden(timeout=10_000)
        [rated] = await ratings(page, url)
        assert (rated["rating"], rated["note"]) == ("up", "right, but hesitant")

        await page.reload()
        await expect(chat).to_contain_text("Four, I think.", timeout=30_000)
        await expect(chat.locator('button[aria-label="Liked"]')).to_be_visible(timeout=10_000)
        await chat.locator('button[aria-label="Dislike"]').click()  # changed: the note stays
        await expect(chat.locator('button[aria-label="Disliked"]')).to_be_visible()
        await expect(page.locator("#feedback-row")).to_be_visible(timeout=10_000)
        [changed] = await ratings(page, url)
        assert (changed["rating"], changed["note"]) == ("down", "right, but hesitant")
    finally:
        await context.close()
