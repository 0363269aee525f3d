"""How the chat page looks and lays out, in a real Chromium: light and dark, desktop and phone."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, send

pytestmark = pytest.mark.browser

Scheme = Literal["light", "dark"]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_page(browser: Browser, fake_app: FakeApp) -> AsyncIterator[OpenPage]:
    """Opens the app in a new browser context of the given colour scheme and viewport."""
    contexts = []

    async def opener(scheme: Scheme = "light", viewport: ViewportSize = DESKTOP, phone: bool = False) -> Page:
        context = await browser.new_context(
            viewport=viewport, color_scheme=scheme, is_mobile=phone, has_touch=phone, device_scale_factor=1
        )
        contexts.append(context)
        page = await context.new_page()
        await page.goto(fake_app.url)
        await expect(page.locator("#send")).to_be_enabled(timeout=30_000)
        return page

    yield opener
    for context in contexts:
        await context.close()


def luminance(pixel: tuple[int, ...]) -> float:
    """WCAG relative luminance of an sRGB pixel."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in pixel[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_a_boxed_answer_shows_its_digit_in_light_and_dark(
    open_page: OpenPage, fake_app: FakeApp, scheme: Scheme
) -> None:
    fake_app.fake.replies = [Reply(["1+1"], ["So the answer is $\\boxed{2}$."])]
    page = await open_page(scheme)
    await send(page, "1+1?")
    box = page.locator("#chat .katex .fbox").last
    await expect(box).to_be_visible(timeout=10_000)
    await expect(box).to_have_css("border-top-color", "rgb(249, 115, 22)")
    bounds = await box.bounding_box()
    assert bounds is not None
    inset = 3  # inside the orange border: what is painted there is the digit and the box's ground
    shot = await page.screenshot(
        clip={
            "x": bounds["x"] + inset,
            "y": bounds["y"] + inset,
            "width": bounds["width"] - 2 * inset,
            "height": bounds["height"] - 2 * inset,
        }
    )
    pixels = list(Image.open(io.BytesIO(shot)).convert("RGB").getdata())
    ground = max(set(pixels), key=pixels.count)  # the commonest colour: the box's background
    ink = [p for p in pixels if contrast(luminance(p), luminance(ground)) >= 4.5]
    assert len(ink) >= 10, f"the digit is not visible in the box ({scheme}): {len(ink)} inked pixels"
    chat_ground = await page.locator("#chat").evaluate("e => getComputedStyle(e).backgroundColor")
    assert scheme == "light" or luminance(ground) < 0.2, f"a light patch in dark mode: {ground}, chat {chat_ground}"


async def uncovered(page: Page, selector: str) -> bool:
    """True when `selector` is inside the viewport and is what a tap at its centre reaches."""
    return bool(
        await page.locator(selector).evaluate(
            """(element) => {
                const box = element.getBoundingClientRect();
                const x = box.left + box.width / 2, y = box.top + box.height / 2;
                if (box.width === 0 || x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
                const hit = document.elementFromPoint(x, y);
                return hit === element || element.contains(hit);
            }"""
        )
    )


async def test_on_a_phone_the_message_box_is_free_at_first_and_after_picking_a_chat(
    open_page: OpenPage, fake_app: FakeApp
) -> None:
    fake_app.fake.replies = [Reply(["ok"], ["Done."])]
    page = await open_page("light", PHONE, phone=True)
    await expect(page.locator("#prompt textarea")).to_be_visible()
    assert await uncovered(page, "#prompt textarea"), "the sidebar covers the message box on first load"
    await send(page, "a phone question")
    await expect(page.locator("#chat")).to_contain_text("Done.", timeout=10_000)
    await page.locator("#sidebar .toggle-button").click()
    item = page.locator("#conversations .chat-item", has_text="a phone question")
    await expect(item).to_be_visible()
    await item.click()
    await expect(page.locator("#chat")).to_contain_text("Done.")
    await expect(item).not_to_be_in_viewport()
    assert await uncovered(page, "#prompt textarea"), "picking a chat left the sidebar over the message box"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_chat_and_its_box_own_the_screen_settings_and_sharing_are_in_the_sidebar(
    open_page: OpenPage, viewport: ViewportSize
) -> None:
    page = await open_page("light", viewport, phone=viewport is PHONE)
    for panel in ("#settings", "#share-panel"):
        inside = await page.locator(panel).evaluate("e => !!e.closest('#sidebar')")
        assert inside, f"{panel} is in the main column"
    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height <= viewport["height"] * 1.15, f"the page is {height} px tall in a {viewport['height']} px window"
    box = await page.locator("#prompt textarea").bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport["height"]
