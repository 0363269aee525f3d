"""What an empty chat shows: the model's name, what R1 does, and example prompts to start from."""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.components.chatbot import ExampleMessage

from webapp.ui.i18n import Lang, t

# (text key of the prompt, whether it is a math question: picking it turns math mode on)
EXAMPLES = (("example_math", True), ("example_code", False), ("example_explain", False))


def model_title(model: str) -> str:
    """A model's name as a person reads it: the last part of a hub id or a path."""
    return model.rstrip("/").rsplit("/", 1)[-1] or model


def welcome(lang: Lang, model: str) -> str:
    """The empty chat's Markdown: the model's name and one line on how R1 answers."""
    return f"### {model_title(model)}\n\n{t('welcome', lang)}"


def examples(lang: Lang) -> list[ExampleMessage]:
    return [ExampleMessage(text=t(key, lang)) for key, _ in EXAMPLES]


def empty_chat(lang: Lang, model: str) -> Any:
    """The update that puts the empty chat's words into `lang`."""
    return gr.update(placeholder=welcome(lang, model), examples=examples(lang))


def picked(lang: Lang, choice: gr.SelectData) -> tuple[str, Any]:
    """An example picked: its text in the message box, and math mode on if it is the math one."""
    index = choice.index if isinstance(choice.index, int) else 0
    key, math = EXAMPLES[index] if 0 <= index < len(EXAMPLES) else EXAMPLES[0]
    return t(key, lang), (True if math else gr.skip())
