"""`‹ 2/3 ›` under an answer: the app's own markup for a message's versions (pure).

Gradio's chat puts a user message's text in its edit box, markup and all, so a question's
versions are shown under its answer too, each set of arrows with its own name. The arrows
are buttons: Tab reaches them, Enter or Space presses them (`ui/versions.py` catches it).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from webapp.db.records import MessageRecord
from webapp.db.tree import Tree, Version
from webapp.ui.i18n import Lang, t


def nav(version: Version, lang: Lang, kind: str, slot: int) -> str:
    """`‹ i/n ›` for one message's versions: `kind` is "answer" or "question"; `slot` its place in the chat.

    Only what the chat's sanitizer keeps: classes, `title`, `value`, `disabled` (no `aria-*`, no
    `data-*`). An arrow is named by its text, hidden but for screen readers; the sign is drawn by CSS.
    """
    index, ids = version.index, version.ids
    label = html.escape(t(f"{kind}_versions", lang), quote=True)

    def arrow(step: str, target: int) -> str:
        name = html.escape(t(f"{step}_{kind}", lang), quote=True)
        state = f'value="{ids[target]}"' if 0 <= target < len(ids) else "disabled"
        return (
            f'<button type="button" class="version-arrow version-{step}" title="{name}" {state}>'
            f'<span class="version-name">{name}</span></button>'
        )

    position = html.escape(t("version_of", lang).format(index=index, count=len(ids)), quote=True)
    return (
        f'<span class="versions versions-{kind}-{slot}" role="group" title="{label}">'
        f"{arrow('previous', index - 2)}"
        f'<span class="version-count" title="{position}">{index}/{len(ids)}</span>'
        f"{arrow('next', index)}</span>"
    )


def footers(tree: Tree, branch: Sequence[MessageRecord], lang: Lang) -> dict[int, str]:
    """The arrows to show under each answer of `branch` (by its id): its question's, then its own."""
    out: dict[int, str] = {}
    versions = tree.versions(branch)
    for slot, (message, version) in enumerate(zip(branch, versions, strict=True)):
        if message.role != "assistant":
            continue
        parts = []
        asked = versions[slot - 1] if slot > 0 and branch[slot - 1].role == "user" else None
        if asked is not None and asked.count > 1:
            parts.append(nav(asked, lang, "question", slot))
        if version.count > 1:
            parts.append(nav(version, lang, "answer", slot))
        if parts:
            out[message.id] = " ".join(parts)
    return out
