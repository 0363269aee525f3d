"""The evaluation tab in a real headless Chromium, against the real engine: run, table, plots, CSV; admins only."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.helpers import ADMIN_PASSWORD, USERS, LiveApp, app_beside, signed_in
from webapp.ops.evaluation.report import CSV_FIELDS

pytestmark = pytest.mark.browser


@pytest.fixture
def requested_hosts() -> set[str]:
    """Every host the page sent a request to."""
    return set()


@pytest.fixture
async def page(browser: Browser, live_app: LiveApp, requested_hosts: set[str]) -> AsyncIterator[Page]:
    """The open-mode page, from this machine: an admin's."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    page.on("request", lambda request: requested_hosts.add(urlsplit(request.url).hostname or ""))
    await page.goto(live_app.url)
    yield page
    await context.close()


async def test_an_admin_runs_the_builtin_set_and_downloads_the_csv(
    page: Page, requested_hosts: set[str], tmp_path: Path
) -> None:
    await page.get_by_role("tab", name="评测").click()
    await expect(page.locator("#eval-builtin input")).to_be_checked()
    await page.locator("#eval-runs input").fill("2")
    await page.locator("#eval-concurrency input").fill("2")
    await page.locator("#eval-run").click()
    progress = page.locator("#eval-progress")
    await expect(progress).to_contain_text("已完成 16/16 次，出错 0 次", timeout=60_000)
    await expect(progress).to_contain_text("完成。")
    table = page.locator("#eval-summary")
    await expect(table).to_contain_text("一致率")
    for question in ("q1", "q8", "all"):
        await expect(table.get_by_role("gridcell", name=question, exact=True)).to_be_visible()
    await expect(
        table.get_by_role("gridcell", name="100%").first
    ).to_be_visible()  # the scripted model agrees with itself
    points = page.locator("#eval-ttft-plot [aria-roledescription='point']")
    await expect(points).to_have_count(16)  # one point per run

    async with page.expect_download() as info:
        await page.locator("#eval-csv a[download]").click()
    saved = tmp_path / "runs.csv"
    await (await info.value).save_as(saved)
    with saved.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == CSV_FIELDS
    # A bar for each run with a rate; an answer that came in one read has none (not a huge figure).
    rated = [r for r in rows if r["tokens_per_s"]]
    await expect(page.locator("#eval-tps-plot [aria-roledescription='bar']")).to_have_count(len(rated))
    assert len(rows) == 16
    assert {r["question"] for r in rows} == {f"q{i}" for i in range(1, 9)}
    assert all(r["error"] == "" and float(r["latency_s"]) > 0 and r["correct"] == "0" for r in rows)
    assert requested_hosts == {"127.0.0.1"}  # the plots need nothing from the internet

    await page.locator("#language").get_by_text("English").click()
    await expect(page.get_by_role("tab", name="Evaluation")).to_be_visible()
    await expect(page.locator("#eval-run")).to_have_text("Run")


async def test_an_empty_prompt_is_refused_and_stop_ends_a_run(page: Page) -> None:
    await page.get_by_role("tab", name="评测").click()
    await page.locator("#eval-builtin input").uncheck()
    await page.locator("#eval-run").click()
    await expect(page.get_by_text("请输入问题，或选择内置数学题。")).to_be_visible(timeout=10_000)
    await page.locator("#eval-prompt textarea").fill("你好")
    await page.locator("#eval-runs input").fill("100")
    await page.locator("#eval-concurrency input").fill("1")
    await page.locator("#eval-run").click()
    progress = page.locator("#eval-progress")
    await expect(progress).to_contain_text("已完成", timeout=30_000)
    await page.locator("#eval-stop").click()
    # However long the stop takes to arrive on a busy machine, the count then holds still short of
    # 100: runs keep ending every few tenths of a second while the evaluation goes on.
    shown = await settled(page, progress)
    assert shown < 100
    await page.wait_for_timeout(1500)
    assert finished(await progress.inner_text()) == shown  # no run ended after the stop


async def settled(page: Page, progress: Locator) -> int:
    """The finished count once two reads a second apart agree."""
    for _ in range(30):
        before = finished(await progress.inner_text())
        await page.wait_for_timeout(1000)
        if finished(await progress.inner_text()) == before:
            return before
    raise AssertionError("the evaluation's count never held still")


def finished(progress: str) -> int:
    """The number of finished runs that the progress line shows."""
    match = re.search(r"已完成 (\d+)/100", progress)
    assert match, progress
    return int(match.group(1))


@pytest.fixture(scope="module")
def accounts_url(live_app: LiveApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with app_beside(live_app, tmp_path_factory.mktemp("ui-eval-accounts")) as url:
        yield url


async def test_only_admins_see_the_evaluation_tab(browser: Browser, accounts_url: str) -> None:
    for name, password, sees in (("alice", USERS["alice"], False), ("admin", ADMIN_PASSWORD, True)):
        context = await browser.new_context()
        try:
            page = await signed_in(context, accounts_url, name, password)
            await expect(page.get_by_role("tab", name="对话")).to_be_visible()
            await expect(page.get_by_role("tab", name="评测")).to_have_count(1 if sees else 0)
        finally:
            await context.close()
