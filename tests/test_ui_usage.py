"""The usage table and a user's quota in the admin tab, and the quota's refusal in the chat, in Chromium
(a fake engine: its streams carry no `usage`, so each turn counts what came and the prompt's bound)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, expect

from tests.fakes import FakeEngine, serve_fake
from tests.helpers import ADMIN_PASSWORD, CAROL, running, send, settings_for, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("ui-usage")
    with serve_fake(FakeEngine()) as engine_url, running(settings_for(work, engine_url)) as app_url:
        yield app_url


async def test_an_admin_sees_usage_sets_a_quota_and_the_user_is_refused_in_their_language(
    browser: Browser, url: str
) -> None:
    carol_context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    admin_context = await browser.new_context(locale="en-US", viewport={"width": 1200, "height": 900})
    try:
        carol = await signed_in(carol_context, url, "carol", CAROL)
        await send(carol, "first question")
        await expect(carol.locator("#chat")).to_contain_text("Fine.", timeout=30_000)

        admin = await signed_in(admin_context, url, "admin", ADMIN_PASSWORD)
        await admin.get_by_role("tab", name="Users").click()
        table = admin.locator("#usage-table")
        await expect(table).to_contain_text("carol", timeout=10_000)
        await expect(table).to_contain_text("Completion tokens")
        await admin.locator("#quota-user input, #quota-user textarea").first.fill("carol")
        await admin.locator("#quota-tokens input, #quota-tokens textarea").first.fill("1")
        await admin.locator("#set-quota").click()
        await expect(table).to_contain_text("1 *", timeout=10_000)

        await send(carol, "one more")
        toast = carol.locator(".toast-body")
        await expect(toast).to_contain_text("额度已用完", timeout=10_000)
        await expect(toast).to_contain_text("UTC 午夜")
        await expect(carol.locator("#prompt textarea")).to_have_value("one more")  # not lost
        await expect(carol.locator("#chat")).not_to_contain_text("one more")
        # In a new chat too, and no empty chat is left in the list by the refusal.
        await carol.locator("#new-chat").click()
        for close in await carol.locator(".toast-close").all():  # the last refusal's toast goes first
            await close.click()
        await expect(carol.locator(".toast-body")).to_have_count(0)
        await send(carol, "in a new chat")
        await expect(carol.locator(".toast-body").last).to_contain_text("额度已用完", timeout=10_000)
        await expect(carol.locator("#prompt textarea")).to_have_value("in a new chat")
        assert len(await (await carol.request.get(f"{url}/api/conversations")).json()) == 1
    finally:
        await carol_context.close()
        await admin_context.close()
