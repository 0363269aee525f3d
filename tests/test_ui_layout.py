"""How the chat page looks and lays out, in a real Chromium: light and dark, desktop and phone."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, ViewportSize, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.fakes import Reply
from tests.helpers import FakeApp, make_settings, send
from webapp.ui.empty_state import model_title
from webapp.ui.i18n import Lang, t
from webapp.web.pages import login_page

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
    await expect(page.locator("#chat .bot-row:not(.live-row) .katex .fbox")).to_be_visible(timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled(timeout=10_000)  # over: the chat as stored, held still
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


UNCOVERED = """(selector) => {
    const element = document.querySelector(selector);
    if (!element) return false;
    const box = element.getBoundingClientRect();
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    if (box.width === 0 || x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
    const hit = document.elementFromPoint(x, y);
    return hit === element || element.contains(hit);
}"""


async def uncovered(page: Page, selector: str) -> bool:
    """True once `selector` is inside the viewport and is what a tap at its centre reaches (the page's
    load events over: their progress veils cover the components they fill)."""
    try:
        await page.wait_for_function(UNCOVERED, arg=selector, timeout=15_000)
    except PlaywrightTimeout:
        return False
    return True


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


# Each figure under an answer ("first token 40 ms"), by the lines its text takes once the line is as
# narrow as it gets (at every space the browser may break at, it breaks; a word, or a run of Chinese
# characters, is not split, as none of these short ones is on a phone): one each.
FIGURE_LINES = """(sub) => {
  sub.style.display = "inline-block";
  sub.style.width = "1px";
  sub.style.lineHeight = "1.5";  // normalize.css gives sub 0: its lines would share one top
  sub.style.overflowWrap = "normal";
  sub.style.wordBreak = "keep-all";
  return sub.textContent.split(" · ").map((figure) => {
    const text = [...sub.childNodes].find((node) => node.nodeType === 3 && node.data.includes(figure));
    const range = document.createRange();
    const start = text.data.indexOf(figure);
    range.setStart(text, start);
    range.setEnd(text, start + figure.length);
    return [figure, new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size];
  });
}"""


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_on_a_phone_the_sidebar_toggle_is_whole_and_an_answers_figures_break_between_not_inside(
    browser: Browser, fake_app: FakeApp, lang: Lang
) -> None:
    fake_app.fake.replies = [Reply(["a ", "b ", "c "], ["Done ", "and ", "more ", "words."], interval=0.05)]
    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US" if lang == "en" else "zh-CN"
    )
    page = await context.new_page()
    await page.goto(fake_app.url)
    await expect(page.locator("#send")).to_have_text(t("send", lang), timeout=30_000)
    toggle = await page.locator("#sidebar .toggle-button").bounding_box()
    tabs = await page.locator("#tabs [role=tablist] button").first.bounding_box()
    assert toggle is not None and tabs is not None
    assert toggle["x"] >= 4, f"the sidebar's toggle is cut by the screen's left edge: {toggle}"
    assert toggle["width"] >= 40 and toggle["height"] >= 40, f"too small to tap: {toggle}"
    assert toggle["x"] + toggle["width"] <= tabs["x"], f"the toggle covers the tabs: {toggle}, {tabs}"
    chat, welcome = await page.locator("#chat").bounding_box(), await page.locator("#chat h3").bounding_box()
    assert chat is not None and welcome is not None
    assert welcome["x"] >= chat["x"] + 8, f"the empty chat's title touches the chat's edge: {welcome}, {chat}"
    await send(page, "figures on a phone")
    figures = page.locator("#chat .bot-row:not(.live-row) sub").last
    await expect(figures).to_contain_text("tok", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await page.wait_for_timeout(500)  # the stored chat drawn for good (a row drawn again is a new element)
    lines = await figures.evaluate(FIGURE_LINES)
    assert len(lines) >= 3 and all(count == 1 for _, count in lines), f"a figure is broken across lines: {lines}"
    # The trash's undo bar: above the message box, not over it; its button's word on one line.
    await page.locator("#chat").get_by_role("button", name="Clear" if lang == "en" else "清空对话").click()
    bar = page.locator(".chat-undo")
    await expect(bar).to_be_visible(timeout=10_000)
    shown, box = await bar.bounding_box(), await page.locator("#prompt textarea").bounding_box()
    undo = await bar.get_by_role("button").bounding_box()
    assert shown is not None and box is not None and undo is not None
    assert shown["y"] + shown["height"] <= box["y"], f"the undo bar covers the message box: {shown}, {box}"
    assert undo["height"] < 40, f"the undo button's word is broken across lines: {undo}"
    await context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_quick_thought_says_how_long_it_took_under_a_tenth_of_a_second_too(
    browser: Browser, fake_app: FakeApp, lang: Lang
) -> None:
    fake_app.fake.replies = [Reply(["quick"], ["Done."])]  # thought in a few ms on a quiet machine
    context = await browser.new_context(viewport=DESKTOP, locale="en-US" if lang == "en" else "zh-CN")
    page = await context.new_page()
    await page.goto(fake_app.url)
    await expect(page.locator("#send")).to_have_text(t("send", lang), timeout=30_000)
    await send(page, "think fast")
    thought = page.locator("#chat .bot-row:not(.live-row)").first
    await expect(thought).to_contain_text(t("thought", lang), timeout=10_000)
    # "<0.1s" in its title; or, when a loaded machine took longer, Gradio's own duration beside it.
    quick = thought.get_by_text(f"{t('thought', lang)} ({t('thought_quick', lang)})")
    await expect(quick.or_(thought.locator(".duration"))).to_be_visible()
    await context.close()


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


# Every small text (under 18 px) on the page whose contrast with what is behind it is under 4.5:1
# (WCAG AA), as "text ratio": the colours as the browser computed them, opacity and translucent grounds
# composed over the page's white (light) or black (dark).
LOW_CONTRAST = r"""
(root) => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const dark = document.body.classList.contains('dark');
  const ground = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((bg, layer) => over(layer, bg), dark ? [0, 0, 0, 1] : [255, 255, 255, 1]);
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  const bad = [];
  for (const el of root.querySelectorAll('*')) {
    if (el.closest('.katex-mathml, annotation, svg, style, script, textarea, input')) continue;
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim();
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!text || box.width < 1 || box.height < 1 || style.visibility === 'hidden') continue;
    if (parseFloat(style.fontSize) >= 18) continue;
    const bg = ground(el);
    const color = parse(style.color);
    // Fully faded (Gradio's hidden progress timer, which it keeps at opacity 0): not text anyone sees.
    const seen = opacity(el);
    if (seen < 0.01) continue;
    color[3] *= seen;
    const [a, b] = [lum(over(color, bg)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(`${text.slice(0, 30)} ${ratio.toFixed(2)}`);
  }
  return bad;
}
"""


async def test_every_control_is_named_in_the_pages_language(open_page: OpenPage, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["ok"], ["Done."])]
    page = await open_page()
    await send(page, "name the controls")
    await expect(page.locator("#chat")).to_contain_text("Done.", timeout=10_000)
    for panel in ("#settings", "#share-panel"):
        await page.locator(panel).locator("button").first.click()
    for generic in ("Textbox", "Radio", "Checkbox", "Dropdown", "Number", "Slider"):
        named = page.get_by_role("textbox", name=generic, exact=True).or_(
            page.get_by_role("radio", name=generic, exact=True)
        )
        assert await named.count() == 0, f"a control is announced as {generic}"
    await expect(page.get_by_role("textbox", name="消息", exact=True)).to_be_visible()
    await expect(page.get_by_role("textbox", name="搜索对话", exact=True)).to_be_visible()
    await expect(page.get_by_role("listbox", name="对话")).to_be_visible()
    await page.locator("#language").get_by_text("English").click()
    await expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_visible()
    await expect(page.get_by_role("textbox", name="Search chats", exact=True)).to_be_visible()
    await expect(page.get_by_role("listbox", name="Chats")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_small_text_is_readable_in_light_and_dark(open_page: OpenPage, fake_app: FakeApp, scheme: Scheme) -> None:
    # Thinking that lasts long enough for the thought block to show its duration.
    fake_app.fake.replies = [Reply(["a ", "b ", "c "], ["Done."], interval=0.1)]
    page = await open_page(scheme)
    await send(page, "small print")
    await expect(page.locator("#chat")).to_contain_text("Done.", timeout=10_000)
    await page.reload()
    await expect(page.locator("#chat sub")).to_be_visible(timeout=10_000)  # the figures under the answer
    await expect(page.locator("#chat .duration")).to_be_visible()
    assert await settled_contrast(page) == []


async def settled_contrast(page: Page) -> list[str]:
    """The small text below 4.5:1 once the page is still: Gradio fades a component its event is updating
    (`.pending`, opacity 0.2, over 0.15 s), and text caught mid-fade is not what a reader sees. A colour
    that is too faint stays in the list."""
    low: list[str] = await page.locator("body").evaluate(LOW_CONTRAST)
    for _ in range(20):
        if not low:
            break
        await page.wait_for_timeout(250)
        low = await page.locator("body").evaluate(LOW_CONTRAST)
    return low


async def test_the_conversation_list_is_one_tab_stop_with_arrows_inside(open_page: OpenPage, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["ok"], ["Done."])]
    page = await open_page()
    for question in ("first chat", "second chat", "third chat"):
        await page.locator("#new-chat").click()
        await expect(page.locator("#conversations .chat-item.current")).to_have_count(0)  # the new chat is open
        await send(page, question)
        await expect(page.locator("#chat")).to_contain_text("Done.", timeout=10_000)
    await expect(page.locator("#conversations .chat-item")).to_have_count(3)
    await page.locator("#search textarea, #search input").first.focus()
    await page.keyboard.press("Tab")
    focused = page.locator("#conversations .chat-item:focus")
    await expect(focused).to_contain_text("third chat")  # the open one holds the list's stop
    await page.keyboard.press("ArrowDown")
    await expect(focused).to_contain_text("second chat")
    await page.keyboard.press("Enter")
    await expect(page.locator("#chat")).to_contain_text("second chat")
    await expect(page.locator("#chat")).not_to_contain_text("third chat")
    await page.locator("#conversations .chat-item", has_text="second chat").focus()
    await page.keyboard.press("Tab")
    assert await page.evaluate("!!document.activeElement.closest('#conversations')") is False


async def test_an_empty_chat_names_the_model_says_what_r1_does_and_offers_examples(
    open_page: OpenPage, fake_app: FakeApp
) -> None:
    page = await open_page()
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("R1 先思考")
    await expect(chat.get_by_role("heading")).to_have_text(model_title(make_settings().model))
    examples = chat.get_by_role("button", name=t("example_math", "zh"))
    await expect(examples).to_be_visible()
    await examples.click()
    await expect(page.locator("#prompt textarea")).to_have_value(t("example_math", "zh"))
    await page.locator("#settings").locator("button").first.click()
    await expect(page.get_by_label(t("math", "zh"))).to_be_checked()
    await page.locator("#language").get_by_text("English").click()
    await expect(chat).to_contain_text("R1 thinks first")
    await expect(chat.get_by_role("button", name=t("example_code", "en"))).to_be_visible()


async def page_ground(page: Page) -> float:
    """The luminance of the page's own background."""
    color = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(part) for part in color[color.index("(") + 1 : color.index(")")].split(",")[:3]]
    return luminance(tuple(channels))


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_share_links_are_listed_and_the_sign_in_and_share_pages_follow_the_systems_scheme(
    open_page: OpenPage, fake_app: FakeApp, scheme: Scheme
) -> None:
    fake_app.fake.replies = [Reply(["Think."], ["The answer is $\\boxed{2}$."])]
    page = await open_page(scheme)
    await send(page, "share me")
    await expect(page.locator("#chat")).to_contain_text("The answer is", timeout=10_000)
    await page.locator("#share-panel").locator("button").first.click()
    await page.locator("#share").click()
    link = page.locator("#share-link textarea, #share-link input").first
    await expect(link).not_to_have_value("", timeout=10_000)
    shared = await link.input_value()
    await page.locator("#shared-links").locator("button").first.click()
    listed = page.locator("#shared-links-table li", has_text=shared)
    await expect(listed.locator(f'a[href="{shared}"]')).to_have_text("share me")  # its title, a link
    await expect(listed).to_contain_text("有效期: 永久")  # the expiry in full
    await page.goto(shared)
    pages = {"share page": page}
    # This app has no accounts (its /login leads to the chat): the sign-in page's own HTML, with an error.
    pages["sign-in page"] = await page.context.new_page()
    await pages["sign-in page"].set_content(login_page(error="Wrong password", lang="zh"))
    for name, shown in pages.items():
        ground = await page_ground(shown)
        assert (ground < 0.1) if scheme == "dark" else (ground > 0.8), f"the {name} in {scheme}: {ground:.2f}"
        assert await shown.locator("body").evaluate(LOW_CONTRAST) == [], name
    # The form's fields span its width, like its button (not a browser's default 20 characters).
    form = pages["sign-in page"].locator("form.login")
    widths = [
        (await form.locator(part).bounding_box() or {"width": 0})["width"] for part in ("input[name=name]", "button")
    ]
    assert widths[0] == pytest.approx(widths[1], abs=1), widths
