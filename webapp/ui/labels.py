"""One registry of every word the page shows on a component, so that a language switch relabels all of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import gradio as gr

from webapp.ui.i18n import Lang, t

Component = TypeVar("Component")


class Labels:
    """Each component's words, registered where it is built: `labels.add(gr.Button(...), "send", "value")`."""

    def __init__(self) -> None:
        self._entries: list[tuple[Any, Callable[[Lang], Any]]] = []

    def add(self, component: Component, key: str, prop: str = "label") -> Component:
        """Set `component`'s `prop` to the text `key` in each language; returns the component."""

        def update(lang: Lang) -> Any:
            values: dict[str, Any] = {prop: t(key, lang)}
            return gr.update(**values)

        self._entries.append((component, update))
        return component

    def add_update(self, component: Component, update: Callable[[Lang], Any]) -> Component:
        """For words that are more than one property (a list of choices, a link): `update(lang)` makes them."""
        self._entries.append((component, update))
        return component

    def extend(self, triples: Iterable[tuple[Any, str, str]]) -> None:
        for component, key, prop in triples:
            self.add(component, key, prop)

    @property
    def components(self) -> list[Any]:
        return [component for component, _ in self._entries]

    def updates(self, lang: Lang) -> list[Any]:
        """The updates that put every registered component into `lang`, in `components`' order."""
        return [update(lang) for _, update in self._entries]
