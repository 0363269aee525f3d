"""The settings panel: sampling, thinking budget, math mode, the thinking shown or not, persona; saved per owner."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.chat.preferences import Preferences
from webapp.llm.sampling import MAX_THINKING_BUDGET
from webapp.ui.context import PRIVATE, Page, sampling_from, shown
from webapp.ui.i18n import DEFAULT_LANG, t
from webapp.ui.sidebar import Sidebar


def controls(preferences: Preferences, max_model_len: int | None) -> tuple[Any, ...]:
    """The panel's values for these preferences, in `SettingsPanel.controls`' order."""
    sampling = preferences.sampling
    return (
        sampling.temperature,
        sampling.top_p,
        gr.update(value=sampling.max_tokens or 0, maximum=max_model_len),
        sampling.math,
        preferences.show_reasoning,
        sampling.persona,
        sampling.thinking_budget or 0,
    )


class SettingsPanel:
    """Built in the sidebar's foot, out of the chat's way."""

    def __init__(self, page: Page) -> None:
        self.page = page
        add = page.labels.add
        with add(gr.Accordion(t("settings", DEFAULT_LANG), open=False, elem_id="settings"), "settings"):
            self.temperature = add(
                gr.Slider(0, 2, value=0.6, step=0.05, label=t("temperature", DEFAULT_LANG)), "temperature"
            )
            self.top_p = add(gr.Slider(0.05, 1, value=0.95, step=0.05, label=t("top_p", DEFAULT_LANG)), "top_p")
            self.max_tokens = add(
                gr.Number(value=0, minimum=0, precision=0, label=t("max_tokens", DEFAULT_LANG)), "max_tokens"
            )
            self.thinking_budget = add(
                gr.Number(
                    value=0, minimum=0, maximum=MAX_THINKING_BUDGET, precision=0, elem_id="thinking-budget",
                    label=t("thinking_budget", DEFAULT_LANG),
                ),
                "thinking_budget",
            )  # fmt: skip
            self.math = add(gr.Checkbox(value=False, label=t("math", DEFAULT_LANG)), "math")
            self.show_reasoning = add(
                gr.Checkbox(value=True, label=t("show_reasoning", DEFAULT_LANG), elem_id="show-reasoning"),
                "show_reasoning",
            )
            self.persona = add(gr.Textbox(label=t("persona", DEFAULT_LANG), lines=2, max_lines=6), "persona")
            self.reset = add(gr.Button(t("reset", DEFAULT_LANG), elem_id="reset-settings", size="sm"), "reset", "value")
        self.controls = [
            self.temperature, self.top_p, self.max_tokens, self.math, self.show_reasoning, self.persona,
            self.thinking_budget,
        ]  # fmt: skip
        # What a turn is sent with (the thinking shown or not changes only how the chat looks).
        self.sampling = [self.temperature, self.top_p, self.max_tokens, self.math, self.persona, self.thinking_budget]

    def wire(self, sidebar: Sidebar, chatbot: gr.Chatbot) -> None:
        page = self.page
        reopen = (sidebar.on_select, [page.current, page.lang], [page.current, chatbot, sidebar.title])
        page.blocks.load(self.on_load, None, self.controls, **PRIVATE)
        for control in (self.max_tokens, self.math, self.persona, self.thinking_budget):
            control.change(self.on_change, self.controls, None, **PRIVATE)
        for slider in (self.temperature, self.top_p):
            slider.release(self.on_change, self.controls, None, **PRIVATE)
        self.show_reasoning.input(self.on_change, self.controls, None, **PRIVATE).then(*reopen, **PRIVATE)
        self.reset.click(self.on_reset, None, self.controls, **PRIVATE).then(*reopen, **PRIVATE)

    async def _max_model_len(self) -> int | None:
        return (await self.page.monitor.report()).engine.max_model_len

    async def on_load(self, request: gr.Request) -> tuple[Any, ...]:
        """The owner's saved settings; controls whose saved value is the page's default are left alone.

        The page can be used before this event ends: what someone typed meanwhile is kept
        unless they had saved something else.
        """
        limit = await self._max_model_len()
        saved = controls(await self.page.service.preferences(await self.page.owner_of(request)), limit)
        built = controls(Preferences(), limit)
        return tuple(
            (gr.update(maximum=limit) if index == 2 else gr.skip()) if mine == page else mine
            for index, (mine, page) in enumerate(zip(saved, built, strict=True))
        )

    async def on_change(
        self, temperature: float, top_p: float, max_tokens: float | None, math: bool, show: bool, persona: str,
        budget: float | None, request: gr.Request,
    ) -> None:  # fmt: skip
        with shown(await self.page.language(request)):
            sampling = sampling_from(temperature, top_p, max_tokens, math, persona, budget)
            preferences = Preferences(sampling, bool(show))
            await self.page.service.save_preferences((await self.page.owner_of(request)), preferences)

    async def on_reset(self, request: gr.Request) -> tuple[Any, ...]:
        owner = await self.page.owner_of(request)
        saved = await self.page.service.save_preferences(owner, Preferences())
        return controls(saved, await self._max_model_len())
