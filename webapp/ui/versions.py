"""Answer versions on the page: the switch the arrows under an answer make (`ui/version_nav.py`).

A press on an arrow (a click, or Enter/Space on a focused one) is caught by `SWITCH_JS`, which
hands the version's id to a hidden button's event; the chat is then shown on that version's
branch, and the focus goes back to the arrows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from webapp.ui.context import PRIVATE, shown
from webapp.ui.i18n import Lang

if TYPE_CHECKING:
    from webapp.ui.context import Page


# Catches a press on the arrows (a click, or Enter/Space on a focused one) before the chat does,
# and hands the version (the arrow's `value`) to the hidden button's event (`VersionSwitch`);
# remembers which arrow had the focus, so `REFOCUS_JS` gives it back once the chat is drawn again.
SWITCH_JS = """() => {
  if (window.versionArrows) return;
  window.versionArrows = true;
  document.addEventListener("click", (event) => {
    const arrow = event.target.closest && event.target.closest("#chat button.version-arrow[value]");
    if (!arrow) return;
    event.preventDefault();
    event.stopPropagation();
    const group = arrow.closest(".versions");
    const slot = group ? [...group.classList].find((name) => name.startsWith("versions-")) : null;
    window.chosenVersion = arrow.value;
    window.versionFocus = [slot, arrow.classList.contains("version-next") ? "next" : "previous"];
    document.querySelector("#version-switch")?.click();
  }, true);
}"""

CHOOSE_JS = "(chosen, current, lang) => [window.chosenVersion || '', current, lang]"

REFOCUS_JS = """() => {
  const [slot, step] = window.versionFocus || [];
  if (!slot) return;
  const group = document.querySelector(`#chat .versions.${slot}`);
  const arrow = group && (group.querySelector(`.version-${step}:not([disabled])`)
    || group.querySelector(".version-arrow:not([disabled])"));
  if (arrow) arrow.focus();
}"""


class VersionSwitch:
    """The hidden control the arrows press; built in the chat tab, wired to its chat."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.chosen = gr.Textbox(visible=False)
        # In the page (a hidden component is not), out of sight: the arrows' script presses it.
        self.button = gr.Button("versions", elem_id="version-switch", visible="hidden")

    def wire(self, chatbot: gr.Chatbot) -> None:
        page = self.page
        page.blocks.load(None, None, None, js=SWITCH_JS, **PRIVATE)
        self.button.click(
            self.on_choose, [self.chosen, page.current, page.lang], [chatbot], js=CHOOSE_JS, **PRIVATE
        ).then(None, None, None, js=REFOCUS_JS, **PRIVATE)

    async def on_choose(self, chosen: str, current: str | None, lang: Lang, request: gr.Request) -> Any:
        """Show the version pressed: the chat on its branch."""
        page = self.page
        owner = await page.owner_of(request)
        if not current or not chosen.isdigit():
            return gr.skip()
        with shown(lang):
            await page.service.choose(owner, current, int(chosen))
        return await page.open(owner, current, lang)
