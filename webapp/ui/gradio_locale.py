"""Gradio's own words (the chat's copy, retry, edit and undo buttons, its "Loading…") in the page's
language, not only the browser's: Gradio picks its locale from the browser once; this switches it."""

from __future__ import annotations

# Gradio 6's front end exports `changeLocale` from its core module, the one instance every
# component reads its words from: the module is found by its address among those the page
# loaded, and imported again (the same instance) to call it.
GRADIO_LOCALE_JS = """async (lang) => {
  const core = /\\/assets\\/core-[\\w-]+\\.js$/;
  const loaded = performance.getEntriesByType("resource").map((entry) => entry.name);
  const address = loaded.find((name) => core.test(new URL(name).pathname));
  if (!address) return;
  const { changeLocale } = await import(address);
  if (typeof changeLocale === "function") changeLocale(lang === "zh" ? "zh-CN" : "en");
}"""
