"""Whole histories in and out of the page (the sidebar's foot): import a file, export them all.

The buttons use the app's own routes (`POST /api/import`, `GET /api/export`): the import's body is
held to IMPORT_MAX_BYTES by the request gate, and Gradio's upload route stays refused. The script
sets only text (`textContent`); the result says how many came in, or what was wrong, in the page's language.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.ui.context import PRIVATE, Page
from webapp.ui.i18n import DEFAULT_LANG, Lang, t

TEMPLATE = """
<div class="history-transfer" role="group" aria-label="{{value.words.history}}">
<button type="button" class="history-import">{{value.words.import_history}}</button>
<input type="file" class="history-file" accept=".json,application/json" hidden
 aria-label="{{value.words.import_history}}">
<a class="history-export" href="/api/export?format=json" download>{{value.words.export_all_json}}</a>
<a class="history-export-zip" href="/api/export?format=zip" download>{{value.words.export_all_zip}}</a>
</div>
"""

# The import's result stays in a bar at the bottom of the window for a few seconds. A refusal says
# what was wrong: the API's own words in English; in Chinese, what kind of refusal it is (by its
# status), the API's detail after it.
SCRIPT = """
const words = () => (props.value && props.value.words) || {};
const say = (text, failed) => {
  document.querySelector('.history-toast')?.remove();
  const bar = document.createElement('div');
  bar.className = 'history-toast' + (failed ? ' failed' : '');
  bar.setAttribute('role', failed ? 'alert' : 'status');
  bar.textContent = text;
  document.body.append(bar);
  setTimeout(() => bar.remove(), 8000);
};
const refusal = (status, detail) => {
  const w = words();
  if (props.value.lang !== 'zh') return detail || w.import_failed;
  const kind = {400: w.import_not_json, 413: w.import_too_large, 422: w.import_not_export}[status]
    || w.import_failed;
  return detail ? `${kind}（${detail}）` : kind;
};
const input = () => element.querySelector('.history-file');
element.addEventListener('click', (event) => {
  if (event.target.closest('.history-import')) input().click();
});
element.addEventListener('change', async (event) => {
  if (!event.target.closest('.history-file')) return;
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  const form = new FormData();
  form.append('file', file);
  let response, body = {};
  try {
    response = await fetch('/api/import', {method: 'POST', body: form, credentials: 'same-origin'});
    body = await response.json().catch(() => ({}));
  } catch (error) {
    return say(refusal(0, String(error)), true);
  }
  if (!response.ok) {
    const error = body.error || {};
    return say(refusal(response.status, [error.message, error.hint].filter(Boolean).join(' ')), true);
  }
  const skipped = (body.skipped || []).length;
  const w = words();
  say(w.imported.replace('{n}', body.imported) + (skipped ? w.import_skipped.replace('{n}', skipped) : ''), false);
  trigger('imported', {ids: body.ids});
});
"""

WORDS = (
    "history",
    "import_history",
    "export_all_json",
    "export_all_zip",
    "imported",
    "import_skipped",
    "import_failed",
    "import_not_json",
    "import_not_export",
    "import_too_large",
)


def transfer_value(lang: Lang) -> dict[str, Any]:
    return {"lang": lang, "words": {key: t(key, lang) for key in WORDS}}


class HistoryTransfer:
    """Built in the sidebar's foot; `wire` shows what an import brought in the conversation list."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.panel = page.labels.add_update(
            gr.HTML(
                transfer_value(DEFAULT_LANG), elem_id="history-transfer", html_template=TEMPLATE, js_on_load=SCRIPT
            ),
            lambda lang: gr.update(value=transfer_value(lang)),
        )

    def wire(self, search: gr.Textbox, conversations: gr.HTML) -> None:
        page = self.page

        async def on_imported(text: str, current: str | None, lang: Lang, request: gr.Request) -> Any:
            return await page.sidebar(await page.owner_of(request), lang, current, text)

        self.panel.imported(on_imported, [search, page.current, page.lang], [conversations], **PRIVATE)
