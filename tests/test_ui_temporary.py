"""The temporary chat in Chromium: said plainly, answered, and written nowhere (a fake engine)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.fakes import FakeEngine, Reply, serve_fake
from tests.helpers import free_port, make_settings, running

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    database = tmp_path / "chat.db"
    with serve_fake(FakeEngine([Reply(["hmm"], ["a passing answer"])])) as engine_url:
        settings = make_settings(
            vllm_base_url=engine_url, port=free_port(), data_dir=tmp_path, database_url=f"sqlite:///{database}"
        )
        with running(settings) as url:
            yield url, database


async def test_a_temporary_chat_is_said_plainly_answered_and_not_saved(browser: Browser, app: tuple[str, Path]) -> None:
    url, database = app
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        await page.goto(url)
        await page.locator("#temporary-switch input").check()
        await expect(page.locator("#temporary-note")).to_contain_text("不会保存到历史记录", timeout=10_000)
        await expect(page.locator("#saved-chat")).to_be_hidden()
        box = page.locator("#temporary-prompt textarea")
        await box.fill("a passing question")
        await box.press("Enter")
        chat = page.locator("#temporary-chatbot")
        await expect(chat).to_contain_text("a passing answer", timeout=30_000)
        await expect(chat).to_contain_text("a passing question")
        await page.get_by_text("English", exact=True).click()
        await expect(page.locator("#temporary-note")).to_contain_text("not saved to your history", timeout=10_000)
        assert (await page.request.get(f"{url}/api/conversations")).ok
        assert await (await page.request.get(f"{url}/api/conversations")).json() == []
        await page.locator("#temporary-switch input").uncheck()  # off: gone, the stored chat back
        await expect(page.locator("#saved-chat")).to_be_visible()
        await expect(page.locator("#temporary-chat")).to_be_hidden()
    finally:
        await context.close()
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM conversations").fetchone() == (0,)


async def test_a_temporary_answer_can_be_stopped_and_the_chat_goes_on(browser: Browser, tmp_path: Path) -> None:
    fake = FakeEngine([Reply(["still thinking "] * 60, ["never"], interval=0.2), Reply(["ok"], ["next answer"])])
    with serve_fake(fake) as engine_url, running(make_settings(vllm_base_url=engine_url, port=free_port(),
                                                               data_dir=tmp_path)) as url:  # fmt: skip
        context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        try:
            await page.goto(url)
            await page.locator("#temporary-switch input").check()
            box = page.locator("#temporary-prompt textarea")
            await box.fill("a long one")
            await box.press("Enter")
            await expect(page.locator("#temporary-chatbot")).to_contain_text("still thinking", timeout=30_000)
            await page.locator("#temporary-stop").click()
            await expect(page.locator("#temporary-send")).to_be_enabled(timeout=10_000)
            await box.fill("and now?")
            await box.press("Enter")
            await expect(page.locator("#temporary-chatbot")).to_contain_text("next answer", timeout=30_000)
            # The stopped answer never joined the history the model is sent.
            sent = str(fake.requests[-1]["messages"])
            assert "a long one" in sent and "and now?" in sent and "still thinking" not in sent
        finally:
            await context.close()
