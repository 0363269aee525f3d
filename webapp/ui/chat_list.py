"""The conversation list: pinned chats first, then newest first grouped by day; one Tab stop with
arrow keys inside, and a menu per chat (pin, rename, share, export, delete).

The list is a `gr.HTML` whose value is plain data (titles, ids, words); its Handlebars template
escapes every title, and its script (`chat_list_script.py`) only ever sets text, never markup. The
script reports what the person did as events (`open`, `rename`, `pin`, ...) with the conversation's id.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from webapp.chat.keeping import UNDO_SECONDS
from webapp.db.records import ConversationInfo
from webapp.ui.i18n import Lang, t

DAY = 86400.0
# (text key, the oldest a conversation may be, in days before today's start, to fall in the group)
GROUPS = (("today", 0), ("yesterday", 1), ("last_week", 7), ("older", None))

_TEMPLATE = """
<div class="chat-list" role="listbox" aria-label="{{value.label}}" aria-orientation="vertical">
{{#each value.groups}}
<div role="group" aria-label="{{this.name}}">
<div class="chat-group" aria-hidden="true">{{this.name}}</div>
{{#each this.items}}
<div class="chat-item{{#if this.current}} current{{/if}}" role="option" data-id="{{this.id}}"
 data-pinned="{{#if this.pinned}}true{{else}}false{{/if}}"
 aria-selected="{{#if this.current}}true{{else}}false{{/if}}" tabindex="{{this.tab}}"
 aria-keyshortcuts="Enter F2 Delete Shift+F10" title="{{this.title}}">
{{#if this.pinned}}<span class="chat-pinned-mark" aria-hidden="true">@PIN@</span>{{/if}}
<span class="chat-title">{{this.title}}</span>
<button type="button" class="chat-more" tabindex="-1" aria-haspopup="menu" aria-label="{{../../value.words.menu}}"
 title="{{../../value.words.menu}}">@MORE@</button>
</div>
{{/each}}
</div>
{{/each}}
{{#unless value.groups.length}}<p class="chat-none">{{value.words.none}}</p>{{/unless}}
</div>
"""


def _icon(paths: str) -> str:
    return (
        '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none" stroke="currentColor"'
        f' stroke-width="2" stroke-linecap="round" stroke-linejoin="round">{paths}</svg>'
    )


ICONS = {
    "@MORE@": _icon('<circle cx="5" cy="12" r="1"/><circle cx="12" cy="12" r="1"/><circle cx="19" cy="12" r="1"/>'),
    "@PIN@": _icon('<path d="M12 17v5"/><path d="M9 3h6l-1 7 4 4H6l4-4z"/>'),
}
TEMPLATE = _TEMPLATE
for _mark, _svg in ICONS.items():
    TEMPLATE = TEMPLATE.replace(_mark, _svg)


def day_groups(conversations: Sequence[ConversationInfo], now: float) -> list[tuple[str, list[ConversationInfo]]]:
    """Pinned conversations first, then the others under today, yesterday, the last 7 days and older
    (by local day); newest first in each group."""
    midnight = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    grouped: dict[str, list[ConversationInfo]] = {"pinned": []}
    grouped |= {key: [] for key, _ in GROUPS}
    for conversation in sorted(conversations, key=lambda c: c.updated_at, reverse=True):
        if conversation.pinned:
            grouped["pinned"].append(conversation)
            continue
        for key, days in GROUPS:
            if days is None or conversation.updated_at >= midnight - days * DAY:
                grouped[key].append(conversation)
                break
    return [(key, items) for key, items in grouped.items() if items]


# Words the list's script shows (its menu, the undo bar), by the key it reads them under.
WORDS = ("rename", "delete", "export", "export_json", "share", "pin", "unpin", "menu", "deleted", "undo", "none")


def chat_list(
    conversations: Sequence[ConversationInfo], lang: Lang, selected: str | None, now: float | None = None
) -> dict[str, Any]:
    """The list's value: groups of items, and the words its template and script show."""
    groups = day_groups(conversations, time.time() if now is None else now)
    ids = [c.id for _, items in groups for c in items]
    # The one Tab stop: the open conversation, or else the first.
    stop = selected if selected in ids else (ids[0] if ids else None)
    return {
        "label": t("conversations", lang),
        "groups": [
            {
                "name": t(key, lang),
                "items": [
                    {
                        "id": c.id,
                        "title": c.title or t("untitled", lang),
                        "current": c.id == selected,
                        "tab": 0 if c.id == stop else -1,
                        "pinned": c.pinned,
                    }
                    for c in items
                ],
            }
            for key, items in groups
        ],
        "words": {key: t("no_chats" if key == "none" else key, lang) for key in WORDS},
        # How long the bar offering to bring a deleted chat back stays: a second less than the server keeps it.
        "undo_ms": int((UNDO_SECONDS - 1) * 1000),
    }
