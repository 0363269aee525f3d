"""The users tab in a real headless Chromium (a fake engine: no chat is needed): who manages each
user, signing a user out everywhere, configured users refused with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.fakes import FakeEngine, serve_fake
from tests.helpers import ADMIN_PASSWORD, running, settings_for, sign_in, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("ui-account")
    with serve_fake(FakeEngine()) as engine_url, running(settings_for(work, engine_url)) as app_url:
        yield app_url


@pytest.fixture
async def users_tab(browser: Browser, url: str) -> AsyncIterator[Page]:
    """The admin's page, on the users tab."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(url)
    await page.locator("input[name=name]").fill("admin")
    await page.locator("input[name=password]").fill(ADMIN_PASSWORD)
    await page.locator("form.login button[type=submit]").click()
    await page.get_by_role("tab", name="用户管理").click()
    yield page
    await context.close()


async def status_of(client: httpx.Client, path: str) -> int:
    return (await asyncio.to_thread(client.get, path)).status_code


async def until_signed_out(client: httpx.Client) -> None:
    for _ in range(50):
        if await status_of(client, "/api/me") == 401:
            return
        await asyncio.sleep(0.2)
    pytest.fail("still signed in after 10 s")


async def act_on(page: Page, name: str, button: str) -> None:
    await page.locator("#user-name input, #user-name textarea").first.fill(name)
    await page.locator(button).click()


async def test_the_users_tab_shows_who_manages_each_user(users_tab: Page) -> None:
    await expect(users_tab.locator("#users")).to_contain_text("carol", timeout=10_000)
    await expect(users_tab.locator("#users")).to_contain_text("配置")  # in the page's language, headers too
    await expect(users_tab.locator("#users")).to_contain_text("管理方")
    await users_tab.get_by_text("English", exact=True).click()
    await expect(users_tab.locator("#users")).to_contain_text("Managed by", timeout=10_000)
    await expect(users_tab.locator("#users")).to_contain_text("config")
    await users_tab.get_by_text("中文", exact=True).click()  # the admin's choice is kept: back as it was
    await expect(users_tab.locator("#users")).to_contain_text("管理方", timeout=10_000)
    await expect(users_tab.locator("#users-note")).to_contain_text("USERS_FILE")


async def test_an_admin_signs_a_user_out_everywhere_from_the_users_tab(users_tab: Page, url: str) -> None:
    with sign_in(url, "admin", ADMIN_PASSWORD) as admin:
        assert admin.post("/api/users", json={"name": "frank", "password": "frank-pass-1"}).status_code == 201
    with sign_in(url, "frank", "frank-pass-1") as frank:
        token = frank.post("/api/tokens", json={"name": "script"}).json()["token"]
        await expect(users_tab.locator("#sign-out-everywhere")).to_have_text("在所有设备上退出登录")
        await act_on(users_tab, "frank", "#sign-out-everywhere")
        await until_signed_out(frank)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as script:
            assert await status_of(script, "/api/me") == 401


async def test_a_configured_users_password_is_refused_with_where_to_change_it(users_tab: Page) -> None:
    await users_tab.locator("#user-password input").fill("taken-over-1")
    await act_on(users_tab, "carol", "#set-password")
    # Told in the page's language, in a toast; the table stays as it was, with no "Error" over it.
    await expect(users_tab.locator(".toast-body")).to_contain_text("carol 来自配置", timeout=10_000)
    await expect(users_tab.locator("#users")).to_contain_text("carol")
    await expect(users_tab.locator("#users")).not_to_contain_text("Error")
    badges = users_tab.locator("#users .error")
    shown = [await b.evaluate(OPACITY) for b in await badges.all()]
    assert all(float(o) == 0 for o in shown), f"an error badge over the users table: opacity {shown}"


# How much of an element shows (opacity multiplies down the tree).
OPACITY = "e => { let o = 1; for (let n = e; n; n = n.parentElement) o *= +getComputedStyle(n).opacity; return o; }"


async def test_the_language_chosen_follows_the_owner_to_another_browser(browser: Browser, url: str) -> None:
    first, second = await browser.new_context(), await browser.new_context()  # no cookie in common
    try:
        page = await signed_in(first, url, "admin", ADMIN_PASSWORD)
        await expect(page.locator("#send")).to_have_text("发送")
        await page.get_by_text("English", exact=True).click()
        await expect(page.locator("#send")).to_have_text("Send")
        await page.wait_for_timeout(500)  # the choice is saved with the switch's event
        elsewhere = await signed_in(second, url, "admin", ADMIN_PASSWORD)  # a Chinese browser
        await expect(elsewhere.locator("#send")).to_have_text("Send", timeout=15_000)
        await elsewhere.get_by_text("中文", exact=True).click()
        await expect(elsewhere.locator("#send")).to_have_text("发送")
    finally:
        await first.close()
        await second.close()
