"""Accounts and share links in a real headless Chromium: sign-in, admin-only parts, markup that never runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.helpers import ADMIN_PASSWORD, USERS, LiveApp, app_beside, rename_chat, send, sign_in, signed_in
from webapp.db.text import auto_title

pytestmark = pytest.mark.browser

ATTACK = '<img src="x" onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'


@pytest.fixture(scope="module")
def url(live_app: LiveApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with app_beside(live_app, tmp_path_factory.mktemp("ui-accounts")) as app_url:
        yield app_url


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    yield context
    await context.close()


async def test_a_wrong_password_is_told_and_the_right_one_opens_the_chat(context: BrowserContext, url: str) -> None:
    page = await context.new_page()
    await page.goto(url)
    await page.locator("input[name=name]").fill("alice")
    await page.locator("input[name=password]").fill("not her password")
    await page.locator("form.login button[type=submit]").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "用户名或密码错误。"
    )  # the sign-in page speaks the browser's language
    await page.locator("input[name=password]").fill(USERS["alice"])
    await page.locator("form.login button[type=submit]").click()
    await expect(page.locator("#signed-in-as")).to_contain_text("alice", timeout=20_000)
    await send(page, "hello")
    await expect(page.locator("#chat")).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    await page.locator("#sign-out").click()
    await expect(page).to_have_url(f"{url}/login", timeout=10_000)
    await page.goto(url)
    await expect(page).to_have_url(f"{url}/login?next=/")  # the session is over


async def test_only_admins_see_the_status_and_users_tabs(context: BrowserContext, browser: Browser, url: str) -> None:
    alice = await signed_in(context, url, "alice", USERS["alice"])
    await expect(alice.get_by_role("tab", name="对话")).to_be_visible()
    await expect(alice.get_by_role("tab", name="状态与日志")).to_have_count(0)
    await expect(alice.get_by_role("tab", name="用户管理")).to_have_count(0)
    admin_context = await browser.new_context()
    try:
        admin = await signed_in(admin_context, url, "admin", ADMIN_PASSWORD)
        await admin.get_by_role("tab", name="用户管理").click()
        await expect(admin.locator("#users")).to_contain_text("alice", timeout=10_000)
        await admin.locator("#user-name input, #user-name textarea").first.fill("frank")
        await admin.locator("#user-password input").fill("frank-pass-1")
        await admin.locator("#create-user").click()
        await expect(admin.locator("#users")).to_contain_text("frank", timeout=10_000)
        with sign_in(url, "frank", "frank-pass-1") as frank:
            assert frank.get("/api/me").json()["name"] == "frank"
        await admin.get_by_role("tab", name="状态与日志").click()
        await expect(admin.locator("#engine-summary")).to_contain_text("external", timeout=10_000)
    finally:
        await admin_context.close()


async def test_markup_in_messages_titles_and_shared_pages_never_runs(
    context: BrowserContext, browser: Browser, url: str
) -> None:
    page = await signed_in(context, url, "bob", USERS["bob"])
    await send(page, f"question {ATTACK} $x^2$")
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    await expect(chat).to_contain_text(ATTACK)  # shown as the text it is
    await expect(page.locator("#conversations")).to_contain_text(auto_title(f"question {ATTACK} $x^2$"), timeout=10_000)
    await rename_chat(page, "question", f"title {ATTACK}")
    await expect(page.locator("#conversations")).to_contain_text(f"title {ATTACK}", timeout=10_000)
    await page.locator("#share-panel").get_by_text("分享此对话").click()
    await page.locator("#share").click()
    link = page.locator("#share-link textarea, #share-link input").first
    await expect(link).not_to_have_value("", timeout=10_000)
    shared_url = await link.input_value()
    assert shared_url.startswith(f"{url}/s/")
    await page.get_by_role("button", name="我的分享链接").click()
    await expect(page.locator("#shared-links-table")).to_contain_text(shared_url, timeout=10_000)
    assert await page.evaluate("window.__pwned") is None
    assert await chat.locator("img[src='x'], script").count() == 0

    visitor_context = await browser.new_context()  # no cookies: a stranger with the link
    try:
        visitor = await visitor_context.new_page()
        await visitor.goto(shared_url)
        await expect(visitor.locator("h1")).to_have_text(f"title {ATTACK}")
        await expect(visitor.locator("body")).to_contain_text(f"question {ATTACK}")
        await expect(visitor.locator("body")).to_contain_text("Hello! I am a tiny scripted model.")
        await expect(visitor.locator("math").first).to_be_attached()  # LaTeX typeset as MathML
        details = visitor.locator("details")
        await expect(details).to_have_count(1)
        assert await details.evaluate("d => d.open") is False  # reasoning folded away
        assert await visitor.locator("img, script, iframe, form, a").count() == 0
        assert await visitor.evaluate("window.__pwned") is None

        await page.locator("#unshare").click()
        await expect(link).to_have_value("", timeout=10_000)
        response = await visitor.goto(shared_url)
        assert response is not None and response.status == 404
    finally:
        await visitor_context.close()


async def test_signed_in_users_never_see_each_others_chats(context: BrowserContext, browser: Browser, url: str) -> None:
    alice = await signed_in(context, url, "alice", USERS["alice"])
    await alice.locator("#new-chat").click()  # not her earlier chat, which the page reopens
    await expect(alice.locator("#chat")).not_to_contain_text("Hello!", timeout=10_000)
    await send(alice, "alice's private question")
    await expect(alice.locator("#conversations")).to_contain_text("alice's private question", timeout=30_000)
    bob_context = await browser.new_context()
    try:
        bob = await signed_in(bob_context, url, "bob", USERS["bob"])
        await bob.locator("#search textarea, #search input").first.fill("private")
        await bob.wait_for_timeout(1000)
        await expect(bob.locator("#conversations")).not_to_contain_text("alice's private question")
        await expect(bob.locator("#chat")).not_to_contain_text("alice's private question")
        conversation = await alice.evaluate("fetch('/api/conversations').then(r => r.json())")
        stolen = await bob.evaluate(f"fetch('/api/conversations/{conversation[0]['id']}').then(r => r.status)")
        assert stolen == 404
    finally:
        await bob_context.close()
