"""The chat page in a real headless Chromium, against the real engine."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import gradio as gr
import pytest
from playwright.async_api import Browser, Page, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, LiveApp, delete_chat, rename_chat, send
from webapp.engine.tiny_model import REASONING_PIECES
from webapp.ui.sessions import PageSessions

pytestmark = pytest.mark.browser


@pytest.fixture
def requested_hosts() -> set[str]:
    """Every host the page sent a request to."""
    return set()


@pytest.fixture
async def page(browser: Browser, live_app: LiveApp, requested_hosts: set[str]) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    page.on("request", lambda request: requested_hosts.add(urlsplit(request.url).hostname or ""))
    await page.goto(live_app.url)
    yield page
    await context.close()


async def test_a_question_streams_its_thinking_and_answer(page: Page) -> None:
    await send(page, "你好")
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    await expect(chat.locator("strong")).to_have_text("Bold")  # markdown rendered
    await expect(chat.locator(".katex").first).to_be_visible()  # $x^2$ typeset
    await expect(page.locator("#send")).to_be_enabled(timeout=30_000)  # over: the chat as stored
    thought = chat.get_by_text("思考过程")
    await expect(thought).to_be_visible()
    await thought.click()  # the finished thought block folds; opening it shows the reasoning
    await expect(chat).to_contain_text("".join(REASONING_PIECES))
    await expect(page.locator("#prompt textarea")).to_have_value("")


async def test_a_second_turn_works_and_the_page_stays_offline(page: Page, requested_hosts: set[str]) -> None:
    await send(page, "first")
    chat = page.locator("#chat")
    await expect(chat.get_by_text("Hello! I am a tiny scripted model.")).to_have_count(1, timeout=30_000)
    await send(page, "second")
    await expect(chat.get_by_text("Hello! I am a tiny scripted model.")).to_have_count(2, timeout=30_000)
    await expect(chat).not_to_contain_text("⚠️")
    assert requested_hosts == {"127.0.0.1"}  # no font, script or telemetry from the internet


async def test_send_is_off_while_an_answer_is_written_and_another_tab_is_told_to_wait(
    browser: Browser, fake_app: FakeApp
) -> None:
    """One turn at a time in a conversation: a second one, from another tab, is refused and keeps its text."""
    # Long enough (30 s) to be under way whatever the machine's load; stopped once it has been seen.
    fake_app.fake.replies = [Reply(["pondering "] * 5, ["word "] * 3000, interval=0.01), Reply(["ok"], ["Done."])]
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        first = await context.new_page()
        await first.goto(fake_app.url)
        await send(first, "write a lot")
        chat = first.locator("#chat")
        await expect(chat).to_contain_text("word word", timeout=10_000)
        await expect(first.locator("#send")).to_be_disabled()
        second = await context.new_page()  # the same person (cookie), the same conversation (restored)
        await second.goto(fake_app.url)
        await expect(second.locator("#chat")).to_contain_text("write a lot", timeout=10_000)
        await send(second, "and another thing")
        await expect(second.get_by_text("此对话中仍有回答在生成")).to_be_visible()  # in the page's language
        await expect(second.locator("#prompt textarea")).to_have_value("and another thing")  # nothing lost
        await first.locator("#stop").click()
        await expect(chat).to_contain_text("已停止", timeout=10_000)
        await expect(first.locator("#send")).to_be_enabled()  # stopped: the conversation is free
        await second.locator("#send").click()
        await expect(second.locator("#chat")).to_contain_text("Done.", timeout=10_000)
        await second.reload()
        await expect(second.locator("#chat")).to_contain_text("Done.", timeout=10_000)
        shown = await second.locator("#chat").inner_text()
        places = [shown.index(text) for text in ("write a lot", "word", "and another thing", "Done.")]
        assert places == sorted(places)  # the turns one after the other, never interleaved
    finally:
        await context.close()


async def test_opening_another_chat_mid_answer_lets_the_person_chat_there_while_it_ends_unseen(
    fake_page: Page, fake_app: FakeApp
) -> None:
    fake_app.fake.replies = [
        Reply(["pondering "] * 5, ["word "] * 1500 + ["The end."], interval=0.01),  # 15 s at least
        Reply(["ok"], ["Second answer."]),
    ]
    page, chat = fake_page, fake_page.locator("#chat")
    sidebar = page.locator("#conversations")

    async def first_answer() -> dict[str, Any]:
        """The last stored message of the first conversation, through the API (the page's cookie)."""
        listed = await (await page.request.get(f"{fake_app.url}/api/conversations")).json()
        [first] = [c["id"] for c in listed if c["title"] == "write a lot"]
        stored = await (await page.request.get(f"{fake_app.url}/api/conversations/{first}")).json()
        last: dict[str, Any] = stored["messages"][-1]
        return last

    async def first_answer_becomes(state: str, within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while (answer := await first_answer())["state"] != state or answer["role"] != "assistant":
            assert time.monotonic() < deadline, f"the first answer never became {state}: {answer}"
            await asyncio.sleep(0.1)
        return answer

    await send(page, "write a lot")
    await expect(chat).to_contain_text("word word", timeout=10_000)
    await page.locator("#new-chat").click()
    await expect(page.locator("#send")).to_be_enabled(timeout=5_000)  # not after the first answer's 15 s
    await send(page, "a second question")
    await expect(chat).to_contain_text("Second answer.", timeout=10_000)
    await expect(chat).not_to_contain_text("write a lot")
    meanwhile = await first_answer()
    assert (meanwhile["role"], meanwhile["state"]) != ("assistant", "complete")  # it goes on meanwhile
    await first_answer_becomes("streaming", within=15)  # its first checkpoint
    await sidebar.get_by_text("write a lot").click()
    await expect(chat).to_contain_text("仍在生成")  # opened mid-answer: what it had, and a note
    await sidebar.get_by_text("a second question").click()
    answer = await first_answer_becomes("complete", within=60)
    assert answer["content"].endswith("The end.")  # run to its end, unseen, and saved whole
    await page.wait_for_timeout(500)  # the page stays where the person is
    await expect(chat).to_contain_text("Second answer.")
    await expect(chat).not_to_contain_text("write a lot")
    await sidebar.get_by_text("write a lot").click()
    await expect(chat).to_contain_text("The end.", timeout=10_000)
    await expect(chat).not_to_contain_text("仍在生成")


async def test_regenerate_shows_a_new_version_of_the_last_answer(fake_page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["one"], ["First take."]), Reply(["two"], ["Second take."])]
    await send(fake_page, "say something")
    chat = fake_page.locator("#chat")
    await expect(chat).to_contain_text("First take.", timeout=10_000)
    await expect(fake_page.locator("#send")).to_be_enabled()
    await fake_page.locator("#chat").get_by_role("button", name="重试").click()  # the chat's own retry
    await expect(chat).to_contain_text("Second take.", timeout=10_000)
    await expect(chat).not_to_contain_text("First take.")
    await fake_page.reload()
    await expect(chat).to_contain_text("Second take.", timeout=10_000)
    assert (await chat.inner_text()).count("say something") == 1


async def test_stop_keeps_the_partial_answer_and_a_reload_shows_it(fake_page: Page, fake_app: FakeApp) -> None:
    # Thinking long enough (3 s) that a busy machine still shows it open before the answer.
    fake_app.fake.replies = [Reply(["pondering "] * 300, ["word "] * 3000, interval=0.01)]
    await send(fake_page, "write a lot")
    chat = fake_page.locator("#chat")
    await expect(chat).to_contain_text("思考中", timeout=10_000)  # the open thought block with its timer
    await expect(chat).to_contain_text("word word word", timeout=10_000)
    await expect(fake_page.locator("#send")).to_be_disabled()
    await fake_page.locator("#stop").click()
    await expect(chat).to_contain_text("已停止", timeout=10_000)
    await expect(fake_page.locator("#send")).to_be_enabled()  # a stopped turn gives Send back
    shown = await chat.inner_text()
    await fake_page.reload()
    await expect(chat).to_contain_text("word word word", timeout=10_000)
    await expect(chat).to_contain_text("已停止")
    assert (await chat.inner_text()).count("word") >= 3
    assert shown.count("word") > 0


async def test_html_and_script_from_the_model_show_as_text(fake_page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [
        Reply(
            ["<b>bold thought</b>"],
            ["<script>window.__pwned = 1</script>", ' <img src="x" onerror="window.__pwned = 2">', " **fine**"],
        )
    ]
    await send(fake_page, "<i>user markup</i>")
    chat = fake_page.locator("#chat")
    await expect(chat).to_contain_text("<script>window.__pwned = 1</script>", timeout=10_000)
    await expect(chat).to_contain_text('<img src="x" onerror="window.__pwned = 2">')
    await expect(chat).to_contain_text("<i>user markup</i>")
    await expect(chat.locator("strong")).to_have_text("fine")  # markdown still renders
    assert await chat.locator("img[src='x'], script, i").count() == 0
    assert await fake_page.evaluate("window.__pwned") is None


async def test_conversations_switch_rename_and_delete(page: Page) -> None:
    chat = page.locator("#chat")
    await send(page, "first question")
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    await page.locator("#new-chat").click()
    await expect(chat).not_to_contain_text("first question")
    await send(page, "second question")
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    sidebar = page.locator("#conversations")
    await expect(sidebar).to_contain_text("first question")
    # The new chat is listed by a Gradio event after its answer began on the page's own stream;
    # under a full run's load that event can wait past the default 5 s (seen once in a full run).
    await expect(sidebar).to_contain_text("second question", timeout=15_000)
    # Typed key by key (a fill fires no input event): the list answers the whole text, not a
    # prefix ("s" matches both).
    await page.locator("#search textarea, #search input").first.press_sequentially("second", delay=0)
    await expect(sidebar).not_to_contain_text("first question")
    await expect(sidebar).to_contain_text("second question")
    for _ in "second":  # emptied key by key (Backspace), the list is whole again
        await page.locator("#search textarea, #search input").first.press("Backspace")
    await expect(sidebar).to_contain_text("first question")
    await sidebar.get_by_text("first question").click()
    await expect(chat).to_contain_text("first question")
    await expect(chat).not_to_contain_text("second question")
    await expect(sidebar.locator(".chat-item.current")).to_contain_text("first question")
    await rename_chat(page, "first question", "Renamed chat")
    await expect(sidebar).to_contain_text("Renamed chat")
    await delete_chat(page, "Renamed chat")
    await expect(sidebar).not_to_contain_text("Renamed chat")
    await expect(sidebar).to_contain_text("second question")
    await page.reload()
    await expect(page.locator("#conversations")).not_to_contain_text("Renamed chat")


async def test_two_browsers_never_see_each_other(browser: Browser, live_app: LiveApp) -> None:
    first = await browser.new_context()
    second = await browser.new_context()
    try:
        alice = await first.new_page()
        await alice.goto(live_app.url)
        await send(alice, "alice's secret question")
        await expect(alice.locator("#chat")).to_contain_text("Hello!", timeout=30_000)
        bob = await second.new_page()
        await bob.goto(live_app.url)
        await expect(bob.locator("#prompt textarea")).to_be_visible()
        await bob.wait_for_timeout(500)
        await expect(bob.locator("#conversations")).not_to_contain_text("alice's secret question")
        await expect(bob.locator("#chat")).not_to_contain_text("alice's secret question")
        await alice.reload()
        await expect(alice.locator("#chat")).to_contain_text("alice's secret question", timeout=10_000)
    finally:
        await first.close()
        await second.close()


async def test_the_page_switches_to_english(page: Page) -> None:
    await expect(page.locator("#send")).to_have_text("发送")
    await page.locator("#language").get_by_text("English").click()
    await expect(page.locator("#send")).to_have_text("Send")
    await expect(page.locator("#new-chat")).to_contain_text("New chat")


async def test_a_length_cut_answer_continues_from_the_settings_panel(page: Page) -> None:
    await page.locator("#settings").get_by_text("设置").click()
    await page.get_by_label("最大生成长度（0 = 自动）").fill("3")
    await send(page, "cut me short")
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("已达长度上限", timeout=30_000)
    await page.get_by_label("最大生成长度（0 = 自动）").fill("0")
    await page.locator("#continue").click()
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    await expect(chat).not_to_contain_text("已达长度上限")


async def test_a_thinking_budget_set_in_the_panel_cuts_the_thought_and_is_kept(page: Page) -> None:
    await page.locator("#settings").get_by_text("设置").click()
    budget = page.get_by_label("思考预算（token，0 = 不限）")
    await budget.fill("3")
    await budget.press("Tab")
    await send(page, "think briefly")
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.", timeout=30_000)
    await expect(chat).to_contain_text("思考 3 tok")  # the script thinks for 6 tokens: cut by the budget
    await chat.get_by_text("思考过程").first.click()  # the thought, opened, says the budget cut it
    await expect(chat).to_contain_text("思考预算（3 token）已用完，思考在此截断")
    await page.reload()
    await page.locator("#settings").get_by_text("设置").click()
    await expect(page.get_by_label("思考预算（token，0 = 不限）")).to_have_value("3", timeout=10_000)


def test_page_sessions_remember_who_acted_what_they_show_and_forget_the_oldest() -> None:
    sessions = PageSessions(limit=2)
    first, second, third = (gr.Request(session_hash=name) for name in ("first", "second", "third"))
    sessions.mark(first, "a")
    sessions.mark(second, None)
    assert first in sessions and second in sessions and third not in sessions
    assert sessions.shows(first, "a") and not sessions.shows(first, "b") and not sessions.shows(second, "a")
    sessions.mark(first, "b")  # chose another conversation
    assert sessions.shows(first, "b") and not sessions.shows(first, "a")
    sessions.mark(third, "c")
    assert first not in sessions and second in sessions and third in sessions
    assert sessions.shows(first, "a")  # forgotten: streamed to as it was
    sessions.mark(gr.Request(), "d")  # a request without a session (the API) is no page's
    assert len([r for r in (first, second, third) if r in sessions]) == 2


async def test_a_boxed_answer_is_typeset_and_stands_out(fake_page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["2+2"], ["The answer is \\boxed{4}."])]
    await send(fake_page, "2+2?")
    boxed = fake_page.locator("#chat .katex .fbox")
    await expect(boxed).to_be_visible(timeout=10_000)
    await expect(boxed).to_have_css("border-top-color", "rgb(249, 115, 22)")


async def test_the_status_tab_shows_the_engine_and_its_log(page: Page, live_app: LiveApp) -> None:
    await page.get_by_role("tab", name="状态与日志").click()
    summary = page.locator("#engine-summary")
    await expect(summary).to_contain_text("ready", timeout=10_000)
    await expect(summary).to_contain_text("512")
    await expect(page.locator("#engine-phases")).to_contain_text("loading weights")
    log = page.locator("#engine-log textarea")
    await expect(log).to_have_value(re.compile("Application startup complete"), timeout=10_000)
    await page.locator("#engine-log").page.get_by_label("搜索日志").fill("Loading weights")
    await page.get_by_label("搜索日志").press("Enter")
    await expect(log).not_to_have_value(re.compile("Application startup complete"), timeout=10_000)
    await expect(log).to_have_value(re.compile("Loading weights took"))
    href = await page.locator("#download-log").get_attribute("href")
    assert href == "/api/engine/log"
    download = await page.request.get(f"{live_app.url}{href}")
    assert download.status == 200
    assert "launching:" in await download.text()


async def test_settings_are_kept_per_browser_and_reset(page: Page) -> None:
    await send(page, "hello")
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("思考过程", timeout=30_000)
    await page.locator("#settings").get_by_text("设置").click()
    await page.get_by_label("显示思考过程").uncheck()
    await expect(chat).not_to_contain_text("思考过程", timeout=10_000)
    await expect(chat).to_contain_text("Hello! I am a tiny scripted model.")
    persona = page.get_by_label("角色设定（并入用户消息）")
    await persona.fill("You are terse.")
    await persona.press("Tab")
    await page.wait_for_timeout(500)
    await page.reload()
    await page.locator("#settings").get_by_text("设置").click()
    await expect(page.get_by_label("角色设定（并入用户消息）")).to_have_value("You are terse.", timeout=10_000)
    await expect(page.get_by_label("显示思考过程")).not_to_be_checked()
    await expect(page.locator("#chat")).not_to_contain_text("思考过程")
    await page.locator("#reset-settings").click()
    await expect(page.get_by_label("显示思考过程")).to_be_checked(timeout=10_000)
    await expect(page.get_by_label("角色设定（并入用户消息）")).to_have_value("")
    await expect(page.locator("#chat")).to_contain_text("思考过程", timeout=10_000)


async def test_a_new_chat_past_the_cap_is_refused_with_the_reason_and_keeps_its_text(
    fake_page: Page, fake_app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_app.fake.replies = [Reply(["ok"], ["Done."])]
    monkeypatch.setattr(fake_app.service, "max_conversations", 1)
    await send(fake_page, "the one I may keep")
    await expect(fake_page.locator("#chat")).to_contain_text("Done.", timeout=10_000)
    await fake_page.locator("#new-chat").click()
    await send(fake_page, "one too many")
    await expect(fake_page.get_by_text("你已有 1 个对话，已达上限。")).to_be_visible()
    await expect(fake_page.locator("#prompt textarea")).to_have_value("one too many")
    await expect(fake_page.locator("#conversations")).not_to_contain_text("one too many")


# Every text the page's script reads from a stream (Gradio's client splits its event stream into lines).
READ_LINES = """
window.readLines = [];
const read = ReadableStreamDefaultReader.prototype.read;
ReadableStreamDefaultReader.prototype.read = function () {
  return read.apply(this, arguments).then((chunk) => {
    if (chunk && typeof chunk.value === 'string') window.readLines.push(chunk.value);
    return chunk;
  });
};
"""


# The page's own script stands aside (it runs only once): sends go through Gradio's events, as they do
# when the script cannot run.
GRADIO_SENDS = "window.r1Live = {busy: () => false};"


async def test_the_chat_is_sent_once_before_the_first_token(browser: Browser, fake_app: FakeApp) -> None:
    """Each update the page renders before the first token delays the token on screen (Gradio's send)."""
    fake_app.fake.replies = [Reply(["zebrafirst "], ["Done."])]
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        await context.add_init_script(READ_LINES)
        await context.add_init_script(GRADIO_SENDS)
        page = await context.new_page()
        await page.goto(fake_app.url)
        await send(page, "hello")
        await expect(page.locator("#chat")).to_contain_text("Done.", timeout=10_000)
        await expect(page.locator("#send")).to_be_enabled()
        lines: list[str] = await page.evaluate("window.readLines")
    finally:
        await context.close()
    updates = [line for line in lines if "process_generating" in line]
    before = list(itertools.takewhile(lambda line: "zebrafirst" not in line, updates))
    assert len(before) == 1, before
