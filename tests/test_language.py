"""Which language a reader gets, and every error a page shows in both of its languages (pure)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from webapp.errors import ZH, ZH_KINDS, AppError, Conflict, EngineError, InvalidInput, RateLimited
from webapp.language import chosen_language, from_accept_language
from webapp.web.pages import login_page

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
WEBAPP = Path(__file__).resolve().parent.parent / "webapp"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh", "zh"),
        ("zh-Hant-TW", "zh"),
        ("en-US,en;q=0.9", "en"),
        ("en;q=0.5, zh-CN;q=0.8", "zh"),  # by quality, not by place
        ("fr-FR,zh;q=0.9", "en"),  # neither first: English
        ("zh;q=0, en", "en"),  # q=0: not wanted at all
        ("zhx", "en"),
        ("", "en"),
        (None, "en"),
        ("zh;q=abc", "en"),
    ],
)
def test_the_browsers_first_language_is_chinese_or_else_english(header: str | None, lang: str) -> None:
    assert from_accept_language(header) == lang


def test_a_choice_kept_in_the_cookie_wins_over_the_browsers_language() -> None:
    assert chosen_language("en", "zh-CN") == "en"
    assert chosen_language("zh", "en-US") == "zh"
    assert chosen_language("klingon", "zh-CN") == "zh"  # not a language of the page: the browser's
    assert chosen_language(None, None) == "en"


def test_an_error_reads_in_english_as_raised_and_in_chinese_by_its_code() -> None:
    error = InvalidInput(
        "A password needs 8 to 1024 characters.", code="password_length", params={"low": 8, "high": 1024}
    )
    assert error.text("en") == "A password needs 8 to 1024 characters."
    assert error.text("zh") == "密码须为 8 到 1024 个字符。"
    busy = Conflict("An answer is still being written.", hint="Wait.", code="busy")
    assert busy.text("en") == "An answer is still being written. Wait."
    assert not re.search(r"[A-Za-z]", busy.text("zh"))


def test_an_error_without_chinese_words_names_its_kind_in_chinese_and_keeps_the_detail() -> None:
    error = EngineError("The engine answered 500: boom")
    assert error.text("zh") == "模型引擎出错：The engine answered 500: boom"
    assert AppError("odd").text("zh").startswith("出错")


def test_a_rate_limit_says_when_to_try_again_in_both_languages() -> None:
    error = RateLimited("Too many messages.", retry_after=4.2, hint="Try again in 4 s.")
    assert "5 秒" in error.text("zh")
    assert error.text("en") == "Too many messages. Try again in 4 s."


def test_every_kind_of_error_has_chinese_words() -> None:
    kinds = {cls.kind for cls in _subclasses(AppError)} | {AppError.kind}
    assert kinds <= set(ZH_KINDS)


def _subclasses(cls: type[AppError]) -> set[type[AppError]]:
    found: set[type[AppError]] = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found)) if found else found


def _raised_codes() -> list[tuple[str, str, set[str]]]:
    """(where, code, params given) for every `code="..."` an error is made with in webapp/."""
    found = []
    for path in WEBAPP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            words = {k.arg: k.value for k in node.keywords if k.arg}
            code = words.get("code")
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                params = words.get("params")
                keys = (
                    {str(k.value) for k in params.keys if isinstance(k, ast.Constant)}
                    if isinstance(params, ast.Dict)
                    else set()
                )
                found.append((f"{path.name}:{node.lineno}", code.value, keys))
    return found


def test_every_code_an_error_is_raised_with_has_chinese_words_filled_by_its_params() -> None:
    raised = _raised_codes()
    assert len(raised) > 30  # the scan sees the raise sites
    for where, code, params in raised:
        assert code in ZH, f"{where}: no Chinese words for {code!r}"
        wanted = {name for _, name, _, _ in string.Formatter().parse(ZH[code]) if name}
        assert wanted == params, f"{where}: {code!r} needs {wanted}, is given {params}"


def test_every_chinese_error_is_raised_somewhere() -> None:
    used = {code for _, code, _ in _raised_codes()} | {"too_many"}  # RateLimited's own code
    assert set(ZH) - used == set()


def test_the_sign_in_page_is_in_the_readers_language() -> None:
    zh = login_page(lang="zh", error="用户名或密码错误。")
    assert "用户名" in zh and "密码" in zh and 'lang="zh-CN"' in zh
    assert "User name" not in zh and "Sign in" not in zh
    en = login_page(lang="en")
    assert "User name" in en and "Sign in" in en
    assert CJK.findall(en.replace("中文", "")) == []  # Chinese is offered in its own name only
