"""Long messages fold: a message taller than `FOLD_JS`'s limit shows its top, with a button to
show it all (and to fold it again), in the page's language (`<html lang>`, which `LANG_JS` keeps).

The answer being written is not folded until its turn is over (Send is off until then): the
view keeps following it. The script only measures the chat and adds its own buttons; it never
reads a message's text into markup.
"""

from __future__ import annotations

import json

from webapp.ui.i18n import TEXT

_WORDS = json.dumps({lang: {"more": TEXT["show_more"][lang], "less": TEXT["show_less"][lang]} for lang in ("zh", "en")})

# The page's language on `<html lang>`: screen readers read the page in it, and the fold
# buttons take their words from it. Run with the language switch's value.
LANG_JS = """(lang) => { document.documentElement.lang = lang === "zh" ? "zh-CN" : "en"; }"""

# A message's body (`[data-testid]` under `.message`) folds when taller than the limit by a
# quarter (a fold hiding three lines helps no one); folded, it shows the limit's height.
FOLD_JS = (
    """() => {
  if (window.foldingMessages) return;
  window.foldingMessages = true;
  const WORDS = """
    + _WORDS
    + """;
  const words = () => WORDS[document.documentElement.lang.startsWith("zh") ? "zh" : "en"];
  const limit = () => Math.round(Math.min(400, 0.6 * window.innerHeight));
  const label = (button) => {
    const open = button.getAttribute("aria-expanded") === "true";
    const text = open ? words().less : words().more;
    if (button.textContent !== text) button.textContent = text;  // unchanged: no mutation, no new pass
  };
  const toggle = (button, body) => {
    const open = body.dataset.fold !== "open";
    body.dataset.fold = open ? "open" : "folded";
    button.setAttribute("aria-expanded", String(open));
    label(button);
    if (!open) body.closest(".message-row")?.scrollIntoView({ block: "nearest" });
  };
  const fold = (body) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "fold-toggle";
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", () => toggle(button, body));
    body.dataset.fold = "folded";
    body.after(button);
  };
  const unfold = (body) => {
    delete body.dataset.fold;
    const next = body.nextElementSibling;
    if (next?.classList.contains("fold-toggle")) next.remove();
  };
  const pass = () => {
    const chat = document.querySelector("#chat");
    if (!chat) return;
    chat.style.setProperty("--fold-height", limit() + "px");
    const writing = document.querySelector("#send")?.disabled;
    const rows = chat.querySelectorAll(".message-row");
    const last = rows[rows.length - 1];
    for (const button of chat.querySelectorAll(".fold-toggle")) {
      if (!button.previousElementSibling?.dataset.fold) button.remove();  // its message was drawn anew
    }
    for (const body of chat.querySelectorAll(".message > [data-testid]")) {
      const held = writing && body.closest(".message-row") === last;  // the answer being written
      const tall = !held && body.scrollHeight > 1.25 * limit();
      if (tall && !body.dataset.fold) fold(body);
      else if (!tall && body.dataset.fold) unfold(body);
    }
    chat.querySelectorAll(".fold-toggle").forEach(label);
  };
  let queued = false;
  const later = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; pass(); });
  };
  const watch = new MutationObserver(later);
  watch.observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["disabled"],
  });
  watch.observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  window.addEventListener("resize", later);
  later();
}"""
)
