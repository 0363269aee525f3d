"""Exported histories read into conversations to store (pure): ChatGPT's, Open WebUI's and this app's.

- ChatGPT (`conversations.json`): a list of conversations, each a `mapping` tree of nodes; the
  branch shown is the one from `current_node` up through its parents. Text parts only: system,
  tool and hidden messages, and parts that are not text (images, code runs), are left out.
- Open WebUI (its chats' JSON export): a list of chats whose `chat.history` is a tree of messages
  with `currentId` (or, older, a flat `chat.messages`); its folded thinking becomes reasoning.
- This app's JSON (`/api/conversations/{id}/export?format=json` or `/api/export?format=json`):
  one conversation, a list of them, or `{"conversations": [...]}`; with its `tree` (`tree=true`),
  every version of every message, and the branch that was shown is shown again.

An answer whose text still holds R1's `<think>…</think>` gets its thinking apart, as a live one
does. A conversation that cannot be used is skipped, with why; the others are kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from webapp.db.records import ConversationDraft, MessageDraft
from webapp.errors import InvalidInput
from webapp.llm.reasoning import CLOSE_TAG, split_completed

EXPECTED = (
    "Expected an exported history: ChatGPT's conversations.json, an Open WebUI chat export (JSON), "
    "or this app's JSON export."
)
ROLES = frozenset({"user", "assistant"})
ANSWER_STATES = frozenset({"complete", "stopped", "error", "truncated"})  # "streaming" is no end
# Open WebUI folds an answer's thinking into its text: a <details type="reasoning"> block first.
_OPEN_WEBUI_THINKING = re.compile(
    r'\A\s*<details\s+type="reasoning"[^>]*>\s*(?:<summary>.*?</summary>)?(.*?)</details>\s*', re.DOTALL
)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A conversation of the file that was not imported: its place (from 1), its title, and why."""

    index: int
    title: str
    reason: str


@dataclass
class Parsed:
    conversations: list[tuple[int, ConversationDraft]] = field(default_factory=list)  # (index, draft)
    skipped: list[Skipped] = field(default_factory=list)


class Unusable(ValueError):
    """Why one conversation of a file cannot be imported."""


def parse_export(document: object, *, max_user_chars: int) -> Parsed:
    """The conversations of an exported history, or InvalidInput (422) when it is none of the formats."""
    return parse_items(_items(document), max_user_chars=max_user_chars)


def parse_items(items: Iterable[Any], *, max_user_chars: int) -> Parsed:
    """The conversations among the entries of an exported list, read one at a time (a file's
    entries may come as they are parsed: only their drafts are kept)."""
    parsed = Parsed()
    recognised = 0
    first: object = None
    for index, item in enumerate(items, start=1):
        first = item if index == 1 else first
        reader = _reader(item)
        title = _title_of(item)
        if reader is None:
            parsed.skipped.append(Skipped(index, title, "not a conversation of any known export format"))
            continue
        recognised += 1
        try:
            parsed.conversations.append((index, _checked(reader(item), max_user_chars)))
        except Unusable as exc:
            parsed.skipped.append(Skipped(index, title, str(exc)))
        except (AttributeError, KeyError, TypeError) as exc:  # a field of an unexpected type: this one alone
            parsed.skipped.append(Skipped(index, title, f"malformed ({type(exc).__name__}: {exc})"))
    if (parsed.skipped or parsed.conversations) and not recognised:
        raise InvalidInput(f"This file is no exported history. {EXPECTED}", hint=_first_keys(first))
    return parsed


def _items(document: object) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        inner = document.get("conversations")
        if isinstance(inner, list) and "mapping" not in document and "messages" not in document:
            return inner  # this app's export of all conversations
        return [document]  # one conversation
    raise InvalidInput(f"The file holds a JSON {type(document).__name__}, not a list of conversations. {EXPECTED}")


def _first_keys(item: object) -> str:
    if isinstance(item, dict):
        return "Its first entry has the fields: " + ", ".join(sorted(str(k) for k in item)[:12]) + "."
    return f"Its first entry is a JSON {type(item).__name__}."


def _reader(item: object) -> Callable[[Mapping[str, Any]], ConversationDraft] | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("mapping"), dict):
        return _chatgpt
    chat = item.get("chat")
    if isinstance(chat, dict) and (isinstance(chat.get("history"), dict) or isinstance(chat.get("messages"), list)):
        return _open_webui
    if isinstance(item.get("messages"), list):
        return _own
    return None


def _title_of(item: object) -> str:
    title = item.get("title") if isinstance(item, dict) else None
    return title if isinstance(title, str) else ""


def _checked(draft: ConversationDraft, max_user_chars: int) -> ConversationDraft:
    if not draft.messages:
        raise Unusable("no text messages")
    for number, message in enumerate(draft.messages, start=1):
        if message.role == "user" and len(message.content) > max_user_chars:
            raise Unusable(
                f"message {number} has {len(message.content):,} characters; the limit is {max_user_chars:,} "
                "(MAX_MESSAGE_CHARS)"
            )
    return draft


# -- times -----------------------------------------------------------------------------------------


def epoch(value: object) -> float | None:
    """Seconds since 1970 from a number of seconds, milliseconds, microseconds or nanoseconds; None if none."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    seconds = float(value)
    while seconds > 1e11:  # past the year 5138 in seconds: a finer unit
        seconds /= 1000
    return seconds


# -- messages --------------------------------------------------------------------------------------


def _answer(content: str, reasoning: str = "") -> tuple[str, str]:
    """(content, reasoning) of an answer: R1's `<think>` block, if its text holds one, taken apart."""
    if not reasoning and CLOSE_TAG in content:
        reasoning, content = split_completed(None, content)
    return content.strip(), reasoning.strip()


def _joined(messages: Iterator[MessageDraft]) -> tuple[MessageDraft, ...]:
    """Messages with those of one role in a row joined (a tool's steps between two parts of an answer)."""
    out: list[MessageDraft] = []
    for message in messages:
        if not message.content and not message.reasoning:
            continue
        last = out[-1] if out else None
        if last is not None and last.role == message.role:
            out[-1] = MessageDraft(
                last.role,
                "\n\n".join(t for t in (last.content, message.content) if t),
                "\n\n".join(t for t in (last.reasoning, message.reasoning) if t),
                last.created_at,
                message.state,
                message.error,
                last.model or message.model,
            )
        else:
            out.append(message)
    return tuple(out)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


# -- ChatGPT ---------------------------------------------------------------------------------------


def _branch(mapping: Mapping[str, Any], current: object) -> list[Mapping[str, Any]]:
    """The nodes from the root down to `current` (or, without one, down the first children)."""
    if not isinstance(current, str) or current not in mapping:
        current = _last_of_first_children(mapping)
    nodes: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    while isinstance(current, str) and current in mapping and current not in seen:
        seen.add(current)
        node = mapping[current]
        if not isinstance(node, dict):
            break
        nodes.append(node)
        current = node.get("parent")
    return nodes[::-1]


def _last_of_first_children(mapping: Mapping[str, Any]) -> str | None:
    roots = [key for key, node in mapping.items() if isinstance(node, dict) and not node.get("parent")]
    current = roots[0] if roots else None
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        children = mapping.get(current, {}).get("children") or []
        if not children or not isinstance(children[0], str) or children[0] not in mapping:
            break
        current = children[0]
    return current


def _chatgpt_message(node: Mapping[str, Any]) -> MessageDraft | None:
    message = node.get("message")
    if not isinstance(message, dict):
        return None
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    content = message.get("content")
    metadata = message.get("metadata")
    if role not in ROLES or not isinstance(content, dict):
        return None
    if isinstance(metadata, dict) and metadata.get("is_visually_hidden_from_conversation"):
        return None
    if content.get("content_type") not in ("text", "multimodal_text"):
        return None  # code, its output, browsing, instructions: not what was said
    parts = content.get("parts")
    text = "\n".join(p for p in parts if isinstance(p, str)) if isinstance(parts, list) else ""
    reasoning = ""
    if role == "assistant":
        text, reasoning = _answer(text)
    model = metadata.get("model_slug") if isinstance(metadata, dict) else None
    return MessageDraft(
        str(role), text.strip(), reasoning, epoch(message.get("create_time")), model=_text(model) or None
    )


def _chatgpt(item: Mapping[str, Any]) -> ConversationDraft:
    nodes = _branch(item["mapping"], item.get("current_node"))
    messages = (m for m in (_chatgpt_message(n) for n in nodes) if m is not None)
    return ConversationDraft(
        _title_of(item), _joined(messages), epoch(item.get("create_time")), epoch(item.get("update_time"))
    )


# -- Open WebUI ------------------------------------------------------------------------------------


def _open_webui_messages(chat: Mapping[str, Any]) -> Sequence[Any]:
    history = chat.get("history")
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        tree: dict[str, Any] = history["messages"]
        current, branch, seen = history.get("currentId"), [], set()
        while isinstance(current, str) and isinstance(tree.get(current), dict) and current not in seen:
            seen.add(current)
            branch.append(tree[current])
            current = tree[current].get("parentId")
        if branch:
            return branch[::-1]
    messages = chat.get("messages")
    return messages if isinstance(messages, list) else []


def _open_webui_message(message: object) -> MessageDraft | None:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        return None
    content, reasoning = _text(message.get("content")), ""
    if message["role"] == "assistant":
        folded = _OPEN_WEBUI_THINKING.match(content)
        if folded:
            quoted = folded[1].strip().splitlines()
            reasoning = "\n".join(line[2:] if line.startswith("> ") else line.lstrip(">") for line in quoted)
            content = content[folded.end() :]
        content, reasoning = _answer(content, reasoning)
    models = message.get("models")
    model = message.get("model") or (models[0] if isinstance(models, list) and models else None)
    return MessageDraft(
        message["role"], content.strip(), reasoning, epoch(message.get("timestamp")), model=_text(model) or None
    )


def _open_webui(item: Mapping[str, Any]) -> ConversationDraft:
    chat = item["chat"]
    messages = (m for m in map(_open_webui_message, _open_webui_messages(chat)) if m is not None)
    title = _title_of(item) or _title_of(chat)
    created = epoch(item.get("created_at")) or epoch(chat.get("timestamp"))
    return ConversationDraft(title, _joined(messages), created, epoch(item.get("updated_at")))


# -- this app's own JSON ---------------------------------------------------------------------------


def _own_message(message: object) -> MessageDraft | None:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        return None
    content, reasoning = _text(message.get("content")), _text(message.get("reasoning"))
    if message["role"] == "user":
        return MessageDraft("user", content.strip(), created_at=epoch(message.get("created_at")))
    state = message.get("state")
    return MessageDraft(
        "assistant",
        *_answer(content, reasoning),
        created_at=epoch(message.get("created_at")),
        state=state if state in ANSWER_STATES else "complete",
        error=_text(message.get("error")) or None,
        model=_text(message.get("model")) or None,
    )


def _own_tree(entries: list[Any]) -> tuple[tuple[MessageDraft, ...], tuple[int | None, ...]]:
    """Every version of an export's `tree`, and each one's parent (its place; None: a first one,
    or one whose parent was left out)."""
    places: dict[object, int] = {}
    messages: list[MessageDraft] = []
    parents: list[int | None] = []
    for entry in entries:
        message = _own_message(entry)
        if message is None or not isinstance(entry.get("id"), int) or isinstance(entry.get("id"), bool):
            continue
        parent = entry.get("parent_id")
        parents.append(places.get(parent) if isinstance(parent, int) else None)
        places[entry["id"]] = len(messages)
        messages.append(replace(message, chosen_at=epoch(entry.get("chosen_at"))))
    return tuple(messages), tuple(parents)


def _own(item: Mapping[str, Any]) -> ConversationDraft:
    title, created, updated = _title_of(item), epoch(item.get("created_at")), epoch(item.get("updated_at"))
    tree = item.get("tree")
    if isinstance(tree, list):  # every version (an export with `tree=true`), not only the branch shown
        messages, parents = _own_tree(tree)
        if messages:
            return ConversationDraft(title, messages, created, updated, parents=parents)
    return ConversationDraft(
        title, _joined(m for m in map(_own_message, item["messages"]) if m is not None), created, updated
    )
