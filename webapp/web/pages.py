"""Pages served outside the Gradio UI: the sign-in page and the frame of share pages (pure).

They carry a Content-Security-Policy that forbids every script: whatever text a
page shows, nothing in it can run.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from webapp.language import Lang

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it Chromium sends `Origin: null` with the sign-in form, which the
    # gate cannot tell from another site's form. Same-origin gives other sites nothing.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# The app's colours (its orange, zinc greys), light or dark as the system is; small text at 4.5:1 or more.
_STYLE = """
:root { color-scheme: light dark; --ground: #f8fafc; --card: #fff; --mine: #fff7ed; --text: #18181b;
  --quiet: #52525b; --line: #d4d4d8; --accent: #c2410c; --error: #b91c1c; --code: #18181b; --code-text: #e4e4e7; }
@media (prefers-color-scheme: dark) {
  :root { --ground: #0f0f11; --card: #1c1c1f; --mine: #2a1d14; --text: #f4f4f5; --quiet: #b4b4bb;
    --line: #3f3f46; --accent: #fb923c; --error: #fca5a5; --code: #09090b; --code-text: #e4e4e7; }
}
body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 0; background: var(--ground);
  color: var(--text); }
main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
a { color: var(--accent); }
form.login { max-width: 22rem; margin: 12vh auto; background: var(--card); padding: 1.5rem; border-radius: .75rem;
  box-shadow: 0 1px 4px #0002; display: grid; gap: .75rem; }
form.login input, form.login button { font: inherit; padding: .55rem .7rem; border-radius: .4rem;
  border: 1px solid var(--line); background: var(--ground); color: var(--text); }
form.login input { width: 100%; box-sizing: border-box; margin-top: .25rem; }
form.login button { background: #c2410c; color: #fff; border: none; cursor: pointer; font-weight: 600; }
.error { color: var(--error); margin: 0; }
.message { background: var(--card); border-radius: .75rem; padding: .75rem 1rem; margin: .75rem 0;
  box-shadow: 0 1px 3px #0001; overflow-wrap: anywhere; }
.message.user { background: var(--mine); }
.role { font-size: .8rem; color: var(--quiet); margin-bottom: .25rem; }
details { color: var(--quiet); border-left: 3px solid var(--line); padding-left: .75rem; margin: .25rem 0 .75rem; }
summary { cursor: pointer; }
pre { background: var(--code); color: var(--code-text); padding: .75rem; border-radius: .5rem; overflow-x: auto; }
code { font-family: ui-monospace, monospace; }
math[display="block"] { margin: .5rem 0; }
menclose[notation="box"] { border: 2px solid #f97316; padding: 2px; }
footer { color: var(--quiet); font-size: .8rem; margin: 2rem 0; }
.languages { margin: 0; text-align: center; font-size: .9rem; }
.languages a[aria-current] { font-weight: 600; color: inherit; text-decoration: none; }
"""


def page(title: str, body: str, *, lang: str = "en") -> str:
    """A whole HTML document; `body` must already be safe HTML."""
    return (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


# The sign-in page's words; each language is offered in its own name.
LOGIN_WORDS: dict[Lang, dict[str, str]] = {
    "en": {"title": "Sign in", "heading": "DeepSeek-R1 chat", "name": "User name", "password": "Password"},
    "zh": {"title": "登录", "heading": "DeepSeek-R1 对话", "name": "用户名", "password": "密码"},
}
LANGUAGE_NAMES: dict[Lang, str] = {"zh": "中文", "en": "English"}
CURRENT = ' aria-current="true"'


def login_page(*, next_path: str = "/", error: str | None = None, name: str = "", lang: Lang = "en") -> str:
    words = LOGIN_WORDS[lang]
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    back = escape(quote(next_path, safe=""))
    switch = " · ".join(
        f'<a href="/login?lang={code}&amp;next={back}" lang="{code}"{CURRENT if code == lang else ""}>{label}</a>'
        for code, label in LANGUAGE_NAMES.items()
    )
    form = (
        '<form class="login" method="post" action="/login">'
        f"<h1>{words['heading']}</h1>"
        f"{problem}"
        f'<label>{words["name"]}<br><input name="name" autocomplete="username" required value="{escape(name)}"'
        " autofocus></label>"
        f'<label>{words["password"]}<br><input name="password" type="password" autocomplete="current-password"'
        " required></label>"
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<button type="submit">{words["title"]}</button>'
        f'<p class="languages">{switch}</p>'
        "</form>"
    )
    return page(words["title"], form, lang="zh-CN" if lang == "zh" else "en")


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//evil` or `https://evil`)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
