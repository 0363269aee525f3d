"""The shared page's rendering: Markdown and math as HTML, and nothing that can run."""

from __future__ import annotations

import pytest

from webapp.web.pages import CSP, safe_next
from webapp.web.share_page import mathml, share_page, to_html


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<iframe src=javascript:alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<svg onload=alert(1)>",
    ],
)
def test_html_in_a_message_is_shown_as_text(attack: str) -> None:
    html = to_html(f"before {attack} after")
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<svg" not in html
    assert "<a " not in html
    assert "&lt;" in html


@pytest.mark.parametrize("link", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "vbscript:x", "data:text/html,<b>"])
def test_links_that_would_run_code_are_not_links(link: str) -> None:
    assert "href" not in to_html(f"[click]({link})")


def test_ordinary_markdown_renders() -> None:
    html = to_html("**bold** and `code` and [docs](https://docs.vllm.ai)\n\n- one\n- two")
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<a href="https://docs.vllm.ai">docs</a>' in html and "<li>two</li>" in html


@pytest.mark.parametrize(
    ("text", "display"),
    [("$x^2$", "inline"), ("\\(x^2\\)", "inline"), ("$$x^2$$", "block"), ("\\[x^2\\]", "block")],
)
def test_the_four_math_delimiters_become_mathml(text: str, display: str) -> None:
    html = to_html(f"so {text} holds")
    assert f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="{display}">' in html
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in html


def test_a_bare_boxed_answer_is_typeset_boxed() -> None:
    html = to_html("The answer is \\boxed{42}.")
    assert '<menclose notation="box"><mrow><mn>42</mn></mrow></menclose>' in html


def test_dollars_inside_code_are_not_math() -> None:
    html = to_html("```\nprice = $5 and $6\n```")
    assert "<math" not in html and "price = $5 and $6" in html


def test_text_inside_math_is_escaped() -> None:
    html = mathml("a < b \\text{<script>alert(1)</script>}", block=False)
    assert "<script" not in html
    assert "&lt;script&gt;" in html and "<mo>&lt;</mo>" in html


def test_latex_that_cannot_be_read_is_shown_as_code() -> None:
    assert mathml("\\frac{", block=True) == "<code>\\frac{</code>"


def test_a_message_cannot_forge_the_math_placeholder() -> None:
    html = to_html("MATH0000000000000000N0X $y$")
    assert "MATH0000000000000000N0X" in html


def test_the_page_folds_reasoning_away_and_escapes_the_title() -> None:
    html = share_page(
        "<b>title</b>",
        [
            {"role": "user", "content": "What is 6*7?", "reasoning": ""},
            {"role": "assistant", "content": "\\boxed{42}", "reasoning": "six sevens"},
        ],
        created_at=0,
    )
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in html
    assert "<details><summary>Thought</summary><p>six sevens</p>\n</details>" in html
    assert "<details open" not in html
    assert "<script" not in html and "<form" not in html and "<a " not in html


def test_the_policy_forbids_every_script() -> None:
    assert "default-src 'none'" in CSP and "script-src" not in CSP  # none falls back to default-src 'none'


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/", "/"), ("/?x=1", "/?x=1"), ("//evil.example", "/"), ("https://evil.example", "/"), ("/\\evil", "/"),
     ("", "/"), (None, "/")],
)  # fmt: skip
def test_after_signing_in_only_local_paths_are_followed(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe
