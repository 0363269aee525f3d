"""Exported histories as other apps write them, for the import tests."""

from __future__ import annotations

from typing import Any


def node(
    node_id: str, parent: str | None, children: list[str], role: str | None, *parts: object, **content: Any
) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {
            "id": node_id,
            "author": {"role": role},
            "create_time": 1_700_000_000 + len(node_id),
            "content": {"content_type": content.get("content_type", "text"), "parts": list(parts)},
            "metadata": content.get("metadata", {}),
        }
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def chatgpt_conversation() -> dict[str, Any]:
    """A root, a system message, a question with two answers (the second one current), and a tool step."""
    nodes = [
        node("root", None, ["sys"], None),
        node("sys", "root", ["q"], "system", ""),
        node("q", "sys", ["a1", "a2"], "user", "What is 2+2?", {"asset_pointer": "file-service://x"}),
        node("a1", "q", [], "assistant", "Old answer, another branch."),
        node("a2", "q", ["tool"], "assistant", "<think>\nAdding.\n</think>\n\nIt is 4."),
        node("tool", "a2", ["code"], "tool", "tool output"),
        node("code", "tool", ["hidden"], "assistant", content_type="code"),
        node("hidden", "code", [], "user", "context", metadata={"is_visually_hidden_from_conversation": True}),
    ]
    return {
        "title": "Sums",
        "create_time": 1_700_000_000.5,
        "update_time": 1_700_000_100.25,
        "mapping": {n["id"]: n for n in nodes},
        "current_node": "hidden",
    }


def open_webui_chat(title: str) -> dict[str, Any]:
    """An Open WebUI chat: a question and an answer whose R1 thinking is still in its text."""
    messages: list[dict[str, Any]] = [
        {"id": "u", "parentId": None, "role": "user", "content": f"{title}?", "timestamp": 1_710_000_000},
        {
            "id": "a",
            "parentId": "u",
            "role": "assistant",
            "content": "<think>Hm.</think>Yes.",
            "timestamp": 1_710_000_001,
        },
    ]
    history = {"messages": {m["id"]: m for m in messages}, "currentId": "a"}
    chat = {"title": title, "history": history, "messages": messages}
    return {"id": title, "title": title, "chat": chat, "created_at": 1_710_000_000, "updated_at": 1_710_000_002}
