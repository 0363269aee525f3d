"""A conversation as a Markdown or JSON document (pure): the branch shown, and in JSON the whole tree if asked."""

from __future__ import annotations

import json
from collections.abc import Sequence

from webapp.db.records import ConversationInfo, MessageRecord


def to_json(
    info: ConversationInfo, messages: Sequence[MessageRecord], tree: Sequence[MessageRecord] | None = None
) -> str:
    """`messages`: the branch shown; `tree`, if given: every version of every message (linked by `parent_id`)."""
    document: dict[str, object] = {
        "id": info.id,
        "title": info.title,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "messages": [m.as_dict() for m in messages],
    }
    if tree is not None:
        document["tree"] = [m.as_dict() for m in tree]
    return json.dumps(document, ensure_ascii=False, indent=2)


def to_markdown(info: ConversationInfo, messages: Sequence[MessageRecord]) -> str:
    lines = [f"# {info.title or 'Conversation'}", ""]
    for message in messages:
        if message.role == "user":
            lines += ["## User", "", message.content, ""]
            continue
        lines += ["## Assistant", ""]
        if message.reasoning:
            # Folded, as in the app: the answer is what a reader wants first.
            lines += ["<details><summary>Thinking</summary>", "", message.reasoning, "", "</details>", ""]
        lines += [message.content, ""]
        if message.state != "complete":
            lines += [f"*({message.state}{': ' + message.error if message.error else ''})*", ""]
    return "\n".join(lines)
