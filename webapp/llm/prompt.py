"""R1's rules of use, applied to the messages before they reach the engine.

The model card: no system prompt (instructions go in the user turn), earlier
turns' reasoning is never sent back, and math asks for step-by-step reasoning
with the final answer in `\\boxed{}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from webapp.llm.reasoning import CLOSE_TAG

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

Message = dict[str, str]


def strip_reasoning(answer: str) -> str:
    """The part of an assistant turn after its last `</think>`: what the template keeps."""
    index = answer.rfind(CLOSE_TAG)
    return answer[index + len(CLOSE_TAG) :].lstrip() if index >= 0 else answer


def fold_instructions(instructions: str, user_text: str) -> str:
    """Put persona or system text at the head of a user turn, as the model card asks."""
    instructions = instructions.strip()
    if not instructions:
        return user_text
    return f"{instructions}\n\n{user_text}"


def r1_messages(messages: Iterable[Mapping[str, object]], *, math: bool = False) -> list[Message]:
    """Rewrite OpenAI-style messages to follow R1's rules.

    System messages are folded into the next user turn (or the last one, if none
    follows); assistant turns lose their reasoning; the math instruction, when
    asked for, ends the last user turn.
    """
    out: list[Message] = []
    pending_system: list[str] = []
    for message in messages:
        role = str(message.get("role", ""))
        content = text_of(message.get("content"))
        if role in ("system", "developer"):
            pending_system.append(content)
        elif role == "user":
            out.append({"role": "user", "content": fold_instructions("\n\n".join(pending_system), content)})
            pending_system = []
        elif role == "assistant":
            out.append({"role": "assistant", "content": strip_reasoning(content)})
        else:
            raise ValueError(f"unknown message role {role!r}")
    last_user = max((i for i, m in enumerate(out) if m["role"] == "user"), default=None)
    if last_user is None:
        raise ValueError("a chat needs at least one user message")
    if pending_system:
        out[last_user]["content"] = fold_instructions("\n\n".join(pending_system), out[last_user]["content"])
    if math and MATH_INSTRUCTION not in out[last_user]["content"]:
        out[last_user]["content"] = f"{out[last_user]['content']}\n\n{MATH_INSTRUCTION}"
    return out


def text_of(content: object) -> str:
    """The text of an OpenAI message content (a string or a list of typed parts)."""
    # OpenAI content is a string or a list of typed parts; only text parts matter here.
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, Mapping) and part.get("type") == "text"
        )
    raise ValueError(f"message content must be text, got {type(content).__name__}")
