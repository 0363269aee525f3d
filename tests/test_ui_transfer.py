"""Whole histories in and out of the page, in a real Chromium: the Import button (its result,
or the specific refusal, in the page's language; the import limit still held) and Export all."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from tests.exports import open_webui_chat
from tests.fakes import FakeEngine, serve_fake
from tests.helpers import FakeApp, free_port, make_settings, serve
from webapp.application import create_app

pytestmark = pytest.mark.browser


async def import_file(page: Page, name: str, content: bytes) -> None:
    """Pick `content` as the file `name` through the Import button."""
    async with page.expect_file_chooser() as chooser:
        await page.locator("#history-transfer .history-import").click()
    picked: FilePayload = {"name": name, "mimeType": "application/json", "buffer": content}
    await (await chooser.value).set_files(files=[picked])


async def test_an_imported_file_joins_the_list_and_export_all_gives_every_chat(
    fake_page: Page, fake_app: FakeApp, tmp_path: Path
) -> None:
    page, toast = fake_page, fake_page.locator(".history-toast")
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await import_file(page, "chat-export.json", json.dumps([open_webui_chat("Green tea")]).encode())
    await expect(toast).to_have_text("已导入 1 个对话", timeout=10_000)
    await expect(page.locator("#conversations")).to_contain_text("Green tea")

    await import_file(page, "notes.json", b'{"notes": []}')
    await expect(toast).to_contain_text("文件不是可导入的导出", timeout=10_000)
    await expect(toast).to_contain_text("This file is no exported history")  # the API's detail after it
    await import_file(page, "broken.json", b"{not json")
    await expect(toast).to_contain_text("文件不是 JSON", timeout=10_000)

    await page.locator("#language").get_by_text("English").click()
    await expect(page.locator("#history-transfer .history-import")).to_have_text("Import…")
    await import_file(page, "notes.json", b'{"notes": []}')
    await expect(toast).to_contain_text("This file is no exported history", timeout=10_000)
    assert "文件" not in await toast.inner_text()

    async with page.expect_download() as download:
        await page.locator("#history-transfer").get_by_text("Export all (JSON)").click()
    exported = json.loads(await asyncio.to_thread(Path(await (await download.value).path()).read_text))
    assert "Green tea" in json.dumps(exported, ensure_ascii=False)
    async with page.expect_download() as download:
        await page.locator("#history-transfer").get_by_text("Export all (zip)").click()
    zipped = await asyncio.to_thread(Path(await (await download.value).path()).read_bytes)
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert any("Green tea" in archive.read(name).decode() for name in archive.namelist())


async def test_a_file_over_the_import_limit_is_refused_with_the_limit_named(browser: Browser, tmp_path: Path) -> None:
    with serve_fake(FakeEngine()) as engine_url:
        settings = make_settings(
            vllm_base_url=engine_url, port=free_port(), host="127.0.0.1", data_dir=tmp_path, import_max_bytes=2048
        )
        with serve(create_app(settings), settings.port) as url:
            context = await browser.new_context(locale="zh-CN")
            page = await context.new_page()
            await page.goto(url)
            await expect(page.locator("#send")).to_have_text("发送", timeout=30_000)
            await import_file(page, "big.json", json.dumps([open_webui_chat("x" * 4000)]).encode())
            toast = page.locator(".history-toast")
            await expect(toast).to_contain_text("文件超过导入上限（IMPORT_MAX_BYTES）", timeout=10_000)
            await expect(toast).to_contain_text("2,048 bytes")
            listed = await (await page.request.get(f"{url}/api/conversations")).json()
            assert listed == []
            await context.close()
