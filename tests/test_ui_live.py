"""The answer being written, read by the page's own script from the app's REST stream (`static/live.js`),
in a real headless Chromium in front of the fake engine: the send goes over the stream, the answer is
drawn as the chat draws it (and never runs or fetches what a message holds), Stop keeps the partial
answer, Gradio takes over with the stored conversation, refusals come in the page's words."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from tests.fakes import Reply
from tests.helpers import ADMIN_PASSWORD, FakeApp, LiveApp, app_beside, send, signed_in, until
from webapp.chat.preferences import Preferences

pytestmark = pytest.mark.browser

STREAM = "/messages"
STORED_ANSWER = ".bot-row:not(.live-row)"  # Gradio's, once the stream is over (the script's rows are `.live-row`)


@pytest.fixture
def requests(fake_page: Page) -> list[Request]:
    """Every request the page sends from now on."""
    seen: list[Request] = []
    fake_page.on("request", lambda request: seen.append(request))
    return seen


def stream_posts(requests: list[Request]) -> list[dict[str, Any]]:
    """The bodies of the page's posts to a conversation's stream."""
    return [json.loads(r.post_data or "{}") for r in requests if r.method == "POST" and r.url.endswith(STREAM)]


async def ready(page: Page) -> None:
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await page.wait_for_function("window.r1Live && window.r1Markdown && window.katex", timeout=15_000)


SLOW = 0.15  # seconds between the fake engine's pieces: the live bubbles are there long enough to look at


async def test_a_send_streams_over_the_apps_own_stream_drawn_as_the_chat_draws_it(
    fake_page: Page, fake_app: FakeApp, requests: list[Request]
) -> None:
    fake_app.fake.replies = [
        Reply(
            ["Let me **weigh** it: ", "$x^2$ ", "grows. "] + ["and so on. "] * 15,  # thinking for 2 s or more
            ["So:\n\n", "```python\nprint(7)\n```\n\n", "The answer is \\boxed{7}."] + [" and more"] * 25,
            interval=SLOW,
        )
    ]
    page, chat = fake_page, fake_page.locator("#chat")
    await ready(page)
    await send(page, "what is *seven*?")
    live = chat.locator(".live-wrap")
    await expect(live.locator(".live-user em")).to_have_text("seven")  # the message at once, Markdown
    await expect(chat.locator(".placeholder-content")).to_be_hidden()  # the new chat's empty state gives way
    await expect(live.locator(".live-thought")).to_contain_text("思考中", timeout=10_000)  # open while thinking
    await expect(live.locator(".live-thought-body strong")).to_have_text("weigh")
    await expect(live.locator(".live-thought-body .katex")).to_be_visible()
    await expect(page.locator("#stop")).to_be_visible()  # writing: Stop in Send's place
    await expect(live.locator(".live-answer .code_wrap .copy_code_button")).to_be_visible(timeout=10_000)
    boxed = live.locator(".live-answer .katex .fbox")
    await expect(boxed).to_be_visible()
    digit = live.locator(".live-answer .katex .boxpad")
    await expect(digit).to_have_text("7")
    await expect(boxed).to_have_css("background-color", "rgba(0, 0, 0, 0)")  # the box does not hide the digit
    await expect(live.locator(".live-thought")).to_contain_text("思考过程")  # done thinking: closed, with its time
    await expect(live.locator(".live-thought-body")).to_be_hidden()
    await live.locator(".live-answer .copy_code_button").click()  # copies, and says so
    await expect(live.locator(".live-answer .copy_code_button.copied")).to_have_count(1)

    # Done: Gradio shows the stored conversation, lists it and makes it the page's.
    await expect(live).to_have_count(0, timeout=15_000)
    await expect(chat.locator(STORED_ANSWER)).to_contain_text("The answer is")
    await expect(page.locator("#send")).to_be_enabled()
    [made] = [r for r in requests if r.method == "POST" and r.url.endswith("/api/conversations")]
    response = await made.response()
    assert response is not None
    conversation: str = (await response.json())["id"]
    assert [r.url.split("/api/")[1] for r in requests if r.url.endswith(STREAM)] == [
        f"conversations/{conversation}/messages"
    ]
    assert stream_posts(requests) == [{"content": "what is *seven*?", "saved_settings": True}]
    item = page.locator(f"#conversations .chat-item[data-id='{conversation}']")
    await expect(item).to_have_class("chat-item current")
    await expect(page.locator("#current textarea")).to_have_value(conversation)

    # The next message goes to the same conversation.
    await send(page, "and again")
    await expect(chat.locator(".user-row:not(.live-row)")).to_have_count(2, timeout=15_000)
    assert len(stream_posts(requests)) == 2
    assert len([r for r in requests if r.url.endswith("/api/conversations")]) == 1


async def test_code_being_written_is_coloured_as_the_stored_chat_colours_it(fake_page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [
        Reply(
            ["t"], ["Here:\n\n", "```python\ndef seven():\n    return 7\n```\n\n"] + ["and more "] * 20, interval=SLOW
        )
    ]
    page, chat = fake_page, fake_page.locator("#chat")
    await ready(page)
    await send(page, "code please")
    keyword = chat.locator(".live-wrap .live-answer code .token.keyword").first  # Gradio's Prism, as the chat's
    await expect(keyword).to_have_text("def", timeout=10_000)
    colour = await keyword.evaluate("e => getComputedStyle(e).color")
    plain = await chat.locator(".live-wrap .live-answer code").first.evaluate("e => getComputedStyle(e).color")
    assert colour != plain, "the keyword is not coloured"
    stored = chat.locator(f"{STORED_ANSWER} code .token.keyword").first
    await expect(stored).to_have_text("def", timeout=15_000)
    await expect(stored).to_have_css("color", colour)


# Each case: what the renderer is given, and a part of the HTML it must give (or must not).
RENDERED = [
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ("**bold**", "<strong>bold</strong>"),
    ("a `<i>` b", "<code>&lt;i&gt;</code>"),
    ("![cat](https://example.com/cat.png)", '<a href="https://example.com/cat.png" target="_blank" rel="noopener'),
    ("so \\boxed{4}", 'class="katex"'),
    ("$$\\frac{1}{2}$$", 'class="katex-display"'),
    ("```\n<script>x</script>\n```", "&lt;script&gt;x&lt;/script&gt;"),
]


@pytest.mark.parametrize(("text", "part"), RENDERED)
async def test_the_renderer_keeps_the_chats_rules(fake_page: Page, text: str, part: str) -> None:
    """The rules of webapp/chat/render.py, in the browser: markup escaped, images as links, boxed typeset."""
    await ready(fake_page)
    html: str = await fake_page.evaluate("(text) => window.r1Markdown.render(text)", text)
    assert part in html, html


@pytest.mark.parametrize(
    "text",
    [
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "\ue0001\ue001 a forged mark",
        "$\\href{javascript:alert(1)}{x}$",
        "![x](http://127.0.0.9/leak?data=1)",
    ],
)
async def test_the_renderer_never_gives_markup_that_runs_or_fetches(fake_page: Page, text: str) -> None:
    await ready(fake_page)
    parsed: dict[str, list[str]] = await fake_page.evaluate(PARSED, text)
    assert not {"img", "script", "iframe", "object", "embed"} & set(parsed["tags"]), parsed
    for name, value in (attribute.split("=", 1) for attribute in parsed["attributes"]):
        assert not name.startswith("on") and name not in ("src", "srcset"), parsed
        assert "javascript:" not in value, parsed


# The elements and attributes of what the renderer gives, as the browser parses it.
PARSED = """(text) => {
  const template = document.createElement('template');
  template.innerHTML = window.r1Markdown.render(text);
  const all = [...template.content.querySelectorAll('*')];
  return {
    tags: all.map((e) => e.tagName.toLowerCase()),
    attributes: all.flatMap((e) => [...e.attributes].map((a) => `${a.name}=${a.value}`)),
  };
}"""


async def test_markup_in_a_message_runs_nothing_and_a_remote_image_is_not_fetched(
    fake_page: Page, fake_app: FakeApp, requests: list[Request]
) -> None:
    fake_app.fake.replies = [
        Reply(
            ["<b>bold thought</b> "],
            ["<script>window.__pwned = 1</script>", ' <img src="x" onerror="window.__pwned = 2">',
             " ![leak](http://127.0.0.9/leak.png)", " **fine**"] + [" more"] * 20,
            interval=SLOW,
        )
    ]  # fmt: skip
    page = fake_page
    await ready(page)
    await send(page, '<i>user markup</i> <img src=x onerror="window.__pwned = 3">')
    live = page.locator("#chat .live-wrap")
    await expect(live.locator(".live-answer strong")).to_have_text("fine", timeout=10_000)  # Markdown still renders
    await expect(live).to_contain_text("<script>window.__pwned = 1</script>")
    await expect(live).to_contain_text('<img src="x" onerror="window.__pwned = 2">')
    await expect(live).to_contain_text("<i>user markup</i>")
    await expect(live).to_contain_text("<b>bold thought</b>")
    await expect(live.get_by_role("link", name="🖼 leak")).to_have_attribute("href", "http://127.0.0.9/leak.png")
    assert await live.locator("img, script, i, b").count() == 0
    await expect(live).to_have_count(0, timeout=15_000)
    assert await page.evaluate("window.__pwned") is None
    assert not [r for r in requests if "127.0.0.9" in r.url]


async def test_stop_aborts_the_stream_and_keeps_the_partial_answer(
    fake_page: Page, fake_app: FakeApp, requests: list[Request]
) -> None:
    fake_app.fake.replies = [Reply(["pondering "] * 5, ["word "] * 3000, interval=0.01)]
    page, chat = fake_page, fake_page.locator("#chat")
    await ready(page)
    await send(page, "write a lot")
    await expect(chat.locator(".live-answer")).to_contain_text("word word word", timeout=10_000)
    await expect(page.locator("#send")).to_be_hidden()
    await page.locator("#stop").click()
    await expect(chat).to_contain_text("已停止", timeout=10_000)  # the stored answer, with its state
    await expect(chat.locator(".live-wrap")).to_have_count(0)
    await expect(page.locator("#send")).to_be_enabled()
    await expect(page.locator("#stop")).to_be_hidden()
    assert len(stream_posts(requests)) == 1
    shown = (await chat.locator(".bot-row").last.inner_text()).count("word")
    await page.reload()
    await expect(chat).to_contain_text("已停止", timeout=10_000)
    assert (await chat.locator(".bot-row").last.inner_text()).count("word") == shown >= 3


async def test_a_refused_message_is_said_in_the_pages_words_and_stays_in_the_box(
    fake_page: Page, fake_app: FakeApp, requests: list[Request]
) -> None:
    page = fake_page
    await ready(page)
    too_long = "x" * (fake_app.service.max_message_chars + 1)
    await send(page, too_long)
    await expect(page.get_by_text(f"消息有 {len(too_long):,} 个字符")).to_be_visible(timeout=10_000)
    await expect(page.locator("#prompt textarea")).to_have_value(too_long)  # nothing lost
    await expect(page.locator("#chat .live-wrap")).to_have_count(0)
    await expect(page.locator("#send")).to_be_enabled()
    await expect(page.locator("#chat .placeholder-content")).to_be_visible()  # the empty state back
    refused = [r for r in requests if r.url.endswith(STREAM)]
    assert len(refused) == 1  # tried over the stream first
    response = await refused[0].response()
    assert response is not None and response.status == 413
    await expect(page.locator("#conversations .chat-item")).to_have_count(0)  # the chat made for it is gone


async def test_the_panels_settings_go_with_the_message(
    fake_page: Page, fake_app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream takes the owner's saved settings: those the panel saves on each change."""
    fake_app.fake.replies = [Reply(["t"], ["Done."])]
    page, service = fake_page, fake_app.service
    saved: list[Preferences] = []
    save = service.save_preferences

    async def recorded(owner: str, preferences: Preferences) -> Preferences:
        kept = await save(owner, preferences)
        saved.append(kept)
        return kept

    monkeypatch.setattr(service, "save_preferences", recorded)
    await ready(page)
    await page.locator("#settings").click()
    persona = page.get_by_label("角色设定（并入用户消息）")
    await persona.fill("You are a pirate.")
    await persona.blur()
    await page.get_by_label("数学模式").check()
    await until(lambda: saved, lambda kept: kept and kept[-1].sampling.math and kept[-1].sampling.persona)
    before = len(fake_app.fake.requests)
    await send(page, "ahoy?")
    await expect(page.locator(f"#chat {STORED_ANSWER}")).to_contain_text("Done.", timeout=10_000)
    prompt = json.dumps(fake_app.fake.requests[before]["messages"])
    assert "You are a pirate." in prompt
    assert "Please reason step by step" in prompt  # R1's math instruction


async def test_with_accounts_the_signed_in_page_streams_and_lists_the_new_chat(
    browser: Browser, live_app: LiveApp, tmp_path: Path
) -> None:
    """The page's session cookie carries the stream (same origin: the origin checks pass), on the real engine."""
    with app_beside(live_app, tmp_path) as url:
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        try:
            page = await signed_in(context, url, "admin", ADMIN_PASSWORD)
            seen: list[Request] = []
            page.on("request", lambda request: seen.append(request))
            await ready(page)
            await send(page, "你好")
            chat = page.locator("#chat")
            await expect(chat.locator(STORED_ANSWER)).to_contain_text("Hello! I am", timeout=30_000)
            [stream] = [r for r in seen if r.url.endswith(STREAM)]
            response = await stream.response()
            assert response is not None and response.status == 200
            await expect(page.locator("#conversations .chat-item.current")).to_contain_text("你好")
        finally:
            await context.close()


async def test_a_send_before_the_page_has_loaded_goes_to_the_chat_the_load_opens_and_stays_in_sight(
    fake_page: Page, fake_app: FakeApp
) -> None:
    page, chat = fake_page, fake_page.locator("#chat")
    fake_app.fake.replies = [Reply(["t"], ["Old answer."])]
    await ready(page)
    await send(page, "an older chat")
    await expect(chat.locator(STORED_ANSWER)).to_contain_text("Old answer.", timeout=10_000)
    older = await page.locator("#current textarea").input_value()
    # The page's events wait (Gradio's queue) while a message is sent over the app's own stream.
    joined, released = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        joined.set()
        await released.wait()
        await route.continue_()

    await page.route("**/gradio_api/queue/join*", hold)
    await page.reload(wait_until="commit")
    joined.clear()  # what the page before the reload still sent does not count
    await asyncio.wait_for(joined.wait(), 15)  # the page's load is under way
    await page.wait_for_function("window.r1Live", timeout=15_000)
    fake_app.fake.replies = [Reply(["t "] * 3, ["Fresh ", "answer."], interval=SLOW)]
    box = page.locator("#prompt textarea")
    await box.fill("a question typed at once")
    await box.press("Enter")
    await page.wait_for_timeout(500)  # time for a send that would not wait to be under way
    released.set()
    await expect(chat.locator(STORED_ANSWER).last).to_contain_text("Fresh answer.", timeout=15_000)
    await expect(chat).to_contain_text("Old answer.")  # the chat the load opened, the message in it
    assert await page.locator("#current textarea").input_value() == older
    await expect(page.locator("#conversations .chat-item")).to_have_count(1)


async def test_a_new_chat_chosen_before_the_stored_chat_comes_stays_chosen(fake_page: Page, fake_app: FakeApp) -> None:
    """The stream is over and the stored chat asked for (`#live-over`), but the person presses New chat
    before it comes: the stored chat, coming late, must not take the page back."""
    page, chat = fake_page, fake_page.locator("#chat")
    fake_app.fake.replies = [Reply(["t"], ["First answer."]), Reply(["t"], ["Second answer."])]
    await ready(page)
    await send(page, "first question")
    await expect(chat.locator(STORED_ANSWER)).to_contain_text("First answer.", timeout=10_000)
    over = await page.evaluate("window.gradio_config.components.find((c) => c.props?.elem_id === 'live-over').id")
    asked, released = asyncio.Event(), asyncio.Event()

    async def hold_the_stored_chat(route: Route) -> None:
        if (route.request.post_data_json or {}).get("trigger_id") == over:
            asked.set()
            await released.wait()
        await route.continue_()

    await page.route("**/gradio_api/queue/join*", hold_the_stored_chat)
    await send(page, "second question")
    await asyncio.wait_for(asked.wait(), 15)
    await page.locator("#new-chat").click()
    await expect(page.locator("#current textarea")).to_have_value("", timeout=10_000)
    await expect(chat).not_to_contain_text("first question")
    released.set()
    await page.wait_for_timeout(1_500)  # time for the stored chat to come, were it to be shown
    await expect(chat).not_to_contain_text("first question")
    assert await page.locator("#current textarea").input_value() == ""
    await expect(page.locator("#send")).to_be_enabled()
