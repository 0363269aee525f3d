"""The conversation list: newest first, grouped by day, one Tab stop with arrow keys inside.

The list is a `gr.HTML` whose value is plain data (titles, ids, words); its Handlebars template
escapes every title, and its script only ever sets text, never markup. The script reports what
the person did as events (`open`, `rename`, `delete`) with the conversation's id.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

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
 aria-selected="{{#if this.current}}true{{else}}false{{/if}}" tabindex="{{this.tab}}"
 aria-keyshortcuts="Enter F2 Delete" title="{{this.title}}">
<span class="chat-title">{{this.title}}</span>
<span class="chat-actions">
<button type="button" class="chat-rename" tabindex="-1" aria-label="{{../../value.words.rename}}"
 title="{{../../value.words.rename}}">@RENAME@</button>
<a class="chat-export" tabindex="-1" href="/api/conversations/{{this.id}}/export?format=md" download
 aria-label="{{../../value.words.export}}" title="{{../../value.words.export}}">@EXPORT@</a>
<button type="button" class="chat-delete" tabindex="-1" aria-label="{{../../value.words.delete}}"
 title="{{../../value.words.delete}}">@DELETE@</button>
</span>
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
    "@RENAME@": _icon('<path d="M12 20h9"/><path d="M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z"/>'),
    "@EXPORT@": _icon('<path d="M12 3v12"/><path d="m7 10 5 5 5-5"/><path d="M5 21h14"/>'),
    "@DELETE@": _icon('<path d="M3 6h18"/><path d="M8 6V4h8v2"/><path d="M6 6l1 14h10l1-14"/>'),
}
TEMPLATE = _TEMPLATE
for _mark, _svg in ICONS.items():
    TEMPLATE = TEMPLATE.replace(_mark, _svg)

# Keys: arrows and Home/End move, Enter opens, F2 renames (Enter keeps, Escape drops), Delete deletes.
# On a narrow screen, opening a chat closes the sidebar over it.
SCRIPT = """
const items = () => [...element.querySelectorAll('.chat-item')];
const words = () => (props.value && props.value.words) || {};
const itemOf = (node) => node && node.closest ? node.closest('.chat-item') : null;
const focusItem = (item) => {
  if (!item) return;
  items().forEach((other) => other.setAttribute('tabindex', other === item ? '0' : '-1'));
  item.focus();
};
const closeOnPhone = () => {
  if (!window.matchMedia('(max-width: 767px)').matches) return;
  const toggle = document.querySelector('.sidebar.open .toggle-button');
  if (toggle) toggle.click();
};
const open = (item) => {
  items().forEach((other) => {
    other.classList.toggle('current', other === item);
    other.setAttribute('aria-selected', other === item ? 'true' : 'false');
  });
  trigger('open', {id: item.dataset.id});
  closeOnPhone();
};
const rename = (item) => {
  const title = item.querySelector('.chat-title');
  const input = document.createElement('input');
  input.className = 'chat-rename-input';
  input.value = title.textContent;
  input.setAttribute('aria-label', words().rename || 'Rename');
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const text = input.value.trim();
    input.replaceWith(title);
    if (keep && text && text !== title.textContent) {
      title.textContent = text;
      trigger('rename', {id: item.dataset.id, title: text});
    }
    focusItem(item);
  };
  input.addEventListener('keydown', (event) => {
    event.stopPropagation();
    if (event.key === 'Enter') { event.preventDefault(); finish(true); }
    if (event.key === 'Escape') { event.preventDefault(); finish(false); }
  });
  input.addEventListener('blur', () => finish(true));
  input.addEventListener('click', (event) => event.stopPropagation());
  title.replaceWith(input);
  input.focus();
  input.select();
};
const remove = (item) => {
  const name = item.querySelector('.chat-title').textContent;
  if (window.confirm((words().confirm_delete || 'Delete “{title}”?').replace('{title}', name))) {
    trigger('delete', {id: item.dataset.id});
  }
};
element.addEventListener('click', (event) => {
  const item = itemOf(event.target);
  if (!item || event.target.closest('.chat-rename-input')) return;
  if (event.target.closest('.chat-export')) return;
  event.preventDefault();
  if (event.target.closest('.chat-rename')) return rename(item);
  if (event.target.closest('.chat-delete')) return remove(item);
  open(item);
});
element.addEventListener('keydown', (event) => {
  const item = itemOf(event.target);
  if (!item || event.target !== item) return;
  const all = items();
  const at = all.indexOf(item);
  const moves = {ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: all.length - 1};
  if (event.key in moves) {
    event.preventDefault();
    focusItem(all[Math.max(0, Math.min(all.length - 1, moves[event.key]))]);
  } else if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    open(item);
  } else if (event.key === 'F2') {
    event.preventDefault();
    rename(item);
  } else if (event.key === 'Delete') {
    event.preventDefault();
    remove(item);
  }
});
"""


def day_groups(conversations: Sequence[ConversationInfo], now: float) -> list[tuple[str, list[ConversationInfo]]]:
    """Conversations (newest first) under today, yesterday, the last 7 days and older, by local day."""
    midnight = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    grouped: dict[str, list[ConversationInfo]] = {key: [] for key, _ in GROUPS}
    for conversation in sorted(conversations, key=lambda c: c.updated_at, reverse=True):
        for key, days in GROUPS:
            if days is None or conversation.updated_at >= midnight - days * DAY:
                grouped[key].append(conversation)
                break
    return [(key, items) for key, items in grouped.items() if items]


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
                    }
                    for c in items
                ],
            }
            for key, items in groups
        ],
        "words": {
            "rename": t("rename", lang),
            "delete": t("delete", lang),
            "export": t("export", lang),
            "confirm_delete": t("confirm_delete", lang),
            "none": t("no_chats", lang),
        },
    }
