"""The chat's controls follow its state (a fake engine: answers cut, long or quick on demand):
Stop only while an answer is written, Continue only under a cut answer, the edit of an earlier
message going on from there, and the trash that deletes the chat (with an undo) rather than pretend."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, send

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(fake_page: Page) -> Page:
    await expect(fake_page.locator("#send")).to_have_text("发送", timeout=15_000)
    return fake_page


async def test_stop_shows_only_while_an_answer_is_written(page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["pondering "] * 5, ["word "] * 3000, interval=0.01)]
    await expect(page.locator("#stop")).to_be_hidden()
    await send(page, "write a lot")
    await expect(page.locator("#chat")).to_contain_text("word word", timeout=10_000)
    await expect(page.locator("#stop")).to_be_visible()
    await page.locator("#stop").click()
    await expect(page.locator("#chat")).to_contain_text("已停止", timeout=10_000)
    await expect(page.locator("#stop")).to_be_hidden()
    await expect(page.locator("#send")).to_be_visible()


async def test_continue_is_offered_only_under_a_cut_answer(page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [
        Reply(["t"], ["Whole."]),
        Reply(["t"], ["Cut sho"], finish="length"),
        Reply([], ["rt."]),
    ]
    chat = page.locator("#chat")
    await send(page, "a whole answer")
    await expect(chat).to_contain_text("Whole.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await expect(page.locator("#continue")).to_be_hidden()  # nothing to go on with: not offered, not refused
    await send(page, "a cut answer")
    await expect(chat).to_contain_text("已达长度上限", timeout=10_000)
    await expect(page.locator("#continue")).to_be_visible()
    await page.locator("#continue").click()
    await expect(chat).to_contain_text("Cut short.", timeout=10_000)
    await expect(page.locator("#continue")).to_be_hidden()
    await page.locator("#new-chat").click()
    await expect(page.locator("#continue")).to_be_hidden()


async def test_an_earlier_message_edited_in_the_chat_goes_on_from_there(page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [
        Reply(["t"], ["Answer one."]),
        Reply(["t"], ["Answer two."]),
        Reply(["t"], ["Answer new."]),
    ]
    chat = page.locator("#chat")
    await send(page, "question one")
    await expect(chat).to_contain_text("Answer one.", timeout=10_000)
    await send(page, "question two")
    await expect(chat).to_contain_text("Answer two.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await chat.get_by_role("button", name="编辑").first.click()  # on the first of the person's messages
    box = chat.locator("textarea")
    await box.fill("question one, edited")
    await chat.get_by_role("button", name="发送").click()
    await expect(chat).to_contain_text("Answer new.", timeout=10_000)
    await expect(chat).not_to_contain_text("question two")
    await page.reload()
    await expect(chat).to_contain_text("Answer new.", timeout=10_000)
    shown = await chat.inner_text()
    assert "question one, edited" in shown and "Answer one." not in shown and "Answer two." not in shown


async def test_the_trash_deletes_the_chat_as_the_lists_delete_does_with_an_undo(page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["t"], ["Kept or not."])]
    chat, listed, bar = page.locator("#chat"), page.locator("#conversations"), page.locator(".chat-undo")
    asked: list[str] = []
    page.on("dialog", lambda dialog: asked.append(dialog.message))
    await send(page, "a chat to delete")
    await expect(chat).to_contain_text("Kept or not.", timeout=10_000)
    await expect(listed).to_contain_text("a chat to delete")
    await chat.get_by_role("button", name="清空对话").click()
    await expect(listed).not_to_contain_text("a chat to delete", timeout=10_000)
    await expect(bar).to_contain_text("已删除“a chat to delete”")
    await bar.get_by_role("button", name="撤销").click()
    await expect(listed).to_contain_text("a chat to delete", timeout=10_000)
    await expect(chat).to_contain_text("Kept or not.")  # open again, as it was
    assert asked == []  # no question: the undo is the way back

    await chat.get_by_role("button", name="清空对话").click()
    await expect(listed).not_to_contain_text("a chat to delete", timeout=10_000)
    await page.reload()
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await page.wait_for_timeout(1000)  # the page's load has opened what there is
    await expect(chat).not_to_contain_text("a chat to delete")  # it does not come back
    await expect(listed).not_to_contain_text("a chat to delete")


async def test_a_refused_send_leaves_the_chat_as_it_was(page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [Reply(["t"], ["Answer one."])]
    chat = page.locator("#chat")
    await send(page, "question one")
    await expect(chat).to_contain_text("Answer one.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await page.locator("#send").click()  # nothing typed: refused
    await expect(page.locator(".toast-body")).to_contain_text("消息是空的", timeout=10_000)
    await expect(chat).to_contain_text("Answer one.")
    await expect(chat.locator(".error")).to_have_count(0)  # no "Error" veil over the chat
