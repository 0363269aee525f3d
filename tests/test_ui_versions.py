"""Answer versions on the page: `‹ 2/2 ›` under an answer after regenerate, switching back and
forth (by mouse and keyboard), an edited earlier message as a branch of its own."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.fakes import Reply
from tests.helpers import FakeApp, send
from webapp.db.records import MessageRecord
from webapp.db.tree import Tree
from webapp.ui.version_nav import footers


def record(message_id: int, role: str, parent_id: int | None) -> MessageRecord:
    fields: dict[str, object] = dict.fromkeys(MessageRecord.__slots__)
    fields.update(id=message_id, conversation_id="c", role=role, content="", reasoning="", state="complete")
    fields.update(math=False, created_at=float(message_id), parent_id=parent_id)
    return MessageRecord(**fields)  # type: ignore[arg-type]


def test_the_arrows_are_named_in_both_languages_and_only_where_there_are_versions() -> None:
    tree = Tree([record(1, "user", None), record(2, "assistant", 1), record(3, "assistant", 1), record(4, "user", 3)])
    tree = Tree([*tree.messages, record(5, "assistant", 4), record(6, "user", 3), record(7, "assistant", 6)])
    branch = tree.branch()
    assert [m.id for m in branch] == [1, 3, 6, 7]
    english, chinese = footers(tree, branch, "en"), footers(tree, branch, "zh")
    assert set(english) == {3, 7}  # the second answer's versions; under 7, its question's
    assert 'title="Previous answer version" value="2"' in english[3]  # 2/2: back to 1
    assert 'title="Next answer version" disabled' in english[3] and ">2/2<" in english[3]
    assert 'title="Question versions"' in english[7] and 'value="4"' in english[7]
    assert '<span class="version-name">上一个回答版本</span>' in chinese[3] and 'title="提问版本"' in chinese[7]


async def test_versions_switch_in_the_chat_and_an_edit_is_a_branch(fake_page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [
        Reply(["t"], ["First take."]),
        Reply(["t"], ["Second take."]),
        Reply(["t"], ["Answer two."]),
        Reply(["t"], ["Answer new."]),
    ]
    page, chat = fake_page, fake_page.locator("#chat")
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await send(page, "question one")
    await expect(chat).to_contain_text("First take.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await chat.get_by_role("button", name="重试").click()  # the chat's own retry: a second version
    await expect(chat).to_contain_text("Second take.", timeout=10_000)
    await expect(chat.locator(".version-count")).to_have_text("2/2")
    await expect(chat).not_to_contain_text("First take.")

    await chat.get_by_role("button", name="上一个回答版本").click()
    await expect(chat).to_contain_text("First take.", timeout=10_000)
    await expect(chat.locator(".version-count")).to_have_text("1/2")
    # By keyboard: the focus is back on the arrows once the chat is drawn again; Tab, then Enter.
    await expect(chat.get_by_role("button", name="下一个回答版本")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(chat).to_contain_text("Second take.", timeout=10_000)
    await expect(chat.get_by_role("button", name="上一个回答版本")).to_be_focused()

    await send(page, "question two")
    await expect(chat).to_contain_text("Answer two.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await chat.get_by_role("button", name="编辑").first.click()  # the first question, edited: a new branch
    await chat.locator("textarea").fill("question one, edited")
    await chat.get_by_role("button", name="发送").click()
    await expect(chat).to_contain_text("Answer new.", timeout=10_000)
    await expect(chat).not_to_contain_text("question two")
    await expect(chat.locator(".version-count")).to_have_text("2/2")

    await chat.get_by_role("button", name="上一个提问版本").click()  # the old turn, and what followed it
    await expect(chat).to_contain_text("Answer two.", timeout=10_000)
    shown = await chat.inner_text()
    assert "question one, edited" not in shown and "Second take." in shown and "question two" in shown
    await page.reload()
    await expect(chat).to_contain_text("Answer two.", timeout=10_000)
    await expect(chat.locator(".versions")).to_have_count(2)  # the question's and the answer's


async def test_the_arrows_stay_after_a_stop(fake_page: Page, fake_app: FakeApp) -> None:
    fake_app.fake.replies = [
        Reply(["t"], ["Whole answer."]),
        Reply(["t"], ["Second version."]),
        Reply(["pondering "] * 5, ["word "] * 3000, interval=0.01),
    ]
    page, chat = fake_page, fake_page.locator("#chat")
    await expect(page.locator("#send")).to_have_text("发送", timeout=15_000)
    await send(page, "a question")
    await expect(chat).to_contain_text("Whole answer.", timeout=10_000)
    await expect(page.locator("#send")).to_be_enabled()
    await chat.get_by_role("button", name="重试").click()
    await expect(chat.locator(".version-count")).to_have_text("2/2", timeout=10_000)
    await send(page, "write a lot")
    await expect(chat).to_contain_text("word word", timeout=10_000)
    await expect(page.locator("#stop")).to_be_visible()
    await page.locator("#stop").click()
    await expect(chat).to_contain_text("已停止", timeout=10_000)
    await expect(chat.locator(".version-count")).to_have_text("2/2")  # the chat after a stop: the arrows too
    await chat.get_by_role("button", name="上一个回答版本").click()
    await expect(chat).to_contain_text("Whole answer.", timeout=10_000)
    await expect(chat).not_to_contain_text("write a lot")
