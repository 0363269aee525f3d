"""On screen, in headless Chromium: the first token's time from the Enter key, and many pages streaming at once.

Both are timed in the page itself, on its own clock (`performance.now()`): from the
Enter keydown (a capturing listener, so before the page's own handlers) to a
`MutationObserver` seeing the token in the chat's DOM. No round trip of the test
driver or polling interval is charged to the page.

- First token: one page per way, messages sent one at a time in the same chat (after
  a few to warm up), each just after a direct streamed call to the same upstream; what
  a way adds is its time less that direct call's, send by send. The page also notes
  when its requests left and their bytes came back (`fetch` and stream reads wrapped),
  which splits the time into parts.
- Many pages: N pages (each its own browser context, so its own owner) press Enter
  at once on a fixed-rate stream; a page's time runs to the end mark on its screen.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field

import httpx
from playwright.async_api import Browser, Page, async_playwright

from bench import procfs, render
from bench.clients import TIMEOUT, direct_chat
from bench.render import CHROMIUM, CHROMIUM_ARGS
from bench.servers import Server, Stand
from bench.stats import percentile
from bench.upstream import END_MARK, THINK_TOKEN

FIRST = THINK_TOKEN.strip()  # the upstream's first token (thinking): what a page must show first
LAST = END_MARK.strip()
CHAT = {"app": "#chat", "baseline": ".chatbot, [data-testid='chatbot'], main"}
# The ways a page may show the first token: this app's page (its script reads the app's own REST
# stream, `static/live.js`), and the baseline's (Gradio's event path).
PAGES = {"app": "app", "baseline": "baseline"}
PROMPT = render.PROMPT
WARM_UP = 3
# The page's marks, in the order a send passes them (`bench/screen_report.py` names them).
MARKS = ("join_sent", "join_answered", "stream_sent", "stream_answered", "bytes", "token_bytes", "shown")

# Installed in every page before its own scripts (so its keydown listener runs first). `__bench.arm(selector,
# text)` counts `text` in the chat now; the first mutation after which it is there once more sets `shown`.
# The keydown of Enter sets `keydown`; `fetch` and stream reads mark when the queue's (or the app's
# stream's) requests left and answered.
PROBE = """
(() => {
  const b = window.__bench = {keydown: null, shown: null, marks: {}, armed: null};
  const now = () => performance.now();
  const mark = (name) => { if (b.armed && b.marks[name] === undefined) b.marks[name] = now(); };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && b.armed && b.keydown === null) b.keydown = now();
  }, {capture: true});
  const count = (selector, text) => {
    let n = 0;
    for (const el of document.querySelectorAll(selector)) n += el.textContent.split(text).length - 1;
    return n;
  };
  b.arm = (selector, text) => {
    b.keydown = null; b.shown = null; b.marks = {};
    const before = count(selector, text);
    b.armed = {selector, text, before};
    if (b.observer) b.observer.disconnect();
    b.observer = new MutationObserver(() => {
      if (b.shown === null && count(selector, text) > before) { b.shown = now(); b.observer.disconnect(); }
    });
    b.observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  };
  const original = window.fetch;
  window.fetch = function (input, init) {
    const url = String(input && input.url ? input.url : input);
    const kind = url.includes('queue/join') ? 'join' : url.includes('queue/data') ? 'stream'
      : url.includes('/messages') ? 'stream' : null;
    if (kind) mark(kind + '_sent');
    const answer = original.apply(this, arguments);
    if (kind) answer.then(() => mark(kind + '_answered'));
    return answer;
  };
  const read = ReadableStreamDefaultReader.prototype.read;
  const decoder = new TextDecoder();
  ReadableStreamDefaultReader.prototype.read = function () {
    return read.apply(this, arguments).then((chunk) => {
      const value = chunk && chunk.value;
      if (b.armed && b.keydown !== null && value !== undefined) {
        const text = typeof value === 'string' ? value
          : value instanceof Uint8Array ? decoder.decode(value) : '';
        if (text) mark('bytes');
        if (text.includes(b.armed.text)) mark('token_bytes');
      }
      return chunk;
    });
  };
})();
"""


@dataclass
class Screen:
    """First tokens on screen (seconds, one per send and way) and the parts of each page's time."""

    ttft: dict[str, list[float]] = field(default_factory=dict)  # way -> seconds, one per send
    direct: dict[str, list[float]] = field(default_factory=dict)  # way -> the direct call's just before each send
    parts: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # way -> marks (ms from keydown)
    pages: dict[str, dict[int, list[float]]] = field(default_factory=dict)  # way -> count -> seconds per page
    stream: str = ""
    others_cores: float = 0.0

    def added(self, way: str, q: float) -> float:
        return percentile([a - d for a, d in zip(self.ttft[way], self.direct[way], strict=True)], q)

    def part(self, way: str, name: str) -> float | None:
        """The median of a mark (ms from the keydown) over the sends that have it."""
        values = [marks[name] for marks in self.parts.get(way, []) if name in marks]
        return statistics.median(values) if values else None

    def slowest(self, way: str, count: int) -> float:
        """Seconds to the end mark on the slowest of `count` pages (the median of runs)."""
        return statistics.median(self.pages[way][count])


async def _page(browser: Browser, url: str, way: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.add_init_script(PROBE)
    page = await context.new_page()
    await page.goto(url)
    await page.locator(PROMPT[way]).first.wait_for(state="visible", timeout=60_000)
    await page.wait_for_timeout(1000)  # let the page's load events finish
    return page


async def _send(page: Page, way: str, text: str, token: str) -> dict[str, float]:
    """Send `text`; once `token` is on screen more times than before, the page's marks (ms) and `shown`."""
    box = page.locator(PROMPT[way]).first
    await box.fill(text)
    await page.evaluate("([s, t]) => window.__bench.arm(s, t)", [CHAT[way], token])
    await box.press("Enter")
    await page.wait_for_function("window.__bench.shown !== null", timeout=120_000, polling=20)
    marks: dict[str, float] = await page.evaluate(
        "(() => { const b = window.__bench; const out = {shown: b.shown - b.keydown};"
        " for (const [k, v] of Object.entries(b.marks)) out[k] = v - b.keydown; return out; })()"
    )
    return marks


async def _settle(page: Page, way: str) -> None:
    """Until the answer is over: the end mark shown and the message box ready for the next one."""
    await page.get_by_text(LAST).last.wait_for(timeout=120_000)
    if way == "app":
        await page.locator("#send:not([disabled])").wait_for(timeout=120_000)
    await page.wait_for_timeout(300)


async def first_tokens(browser: Browser, stand: Stand, samples: int, text: str, result: Screen) -> None:
    pages = {way: await _page(browser, stand.url(PAGES[way]), way) for way in PAGES}
    for way in pages:
        result.ttft[way], result.direct[way], result.parts[way] = [], [], []
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        for index in range(WARM_UP + samples):
            for way, page in pages.items():
                direct = await direct_chat(http, stand.upstream, text)
                marks = await _send(page, way, text, FIRST)
                await _settle(page, way)
                if index >= WARM_UP:
                    result.direct[way].append(direct.ttft)
                    result.ttft[way].append(marks["shown"] / 1e3)
                    result.parts[way].append(marks)
    for page in pages.values():
        await page.context.close()


async def many_pages(browser: Browser, server: Server, way: str, count: int, text: str) -> float:
    """Seconds from Enter to the end mark on the slowest of `count` pages pressing Enter at once."""
    pages = [await _page(browser, server.url, way) for _ in range(count)]
    try:
        for page in pages:
            await page.locator(PROMPT[way]).first.fill(text)
            await page.evaluate("([s, t]) => window.__bench.arm(s, t)", [CHAT[way], LAST])
        await asyncio.gather(*(page.locator(PROMPT[way]).first.press("Enter") for page in pages))
        seconds: list[float] = []
        for page in pages:
            await page.wait_for_function("window.__bench.shown !== null", timeout=300_000, polling=100)
            seconds.append(float(await page.evaluate("(window.__bench.shown - window.__bench.keydown) / 1e3")))
        return max(seconds)
    finally:
        for page in pages:
            await page.context.close()


async def measure(
    stand: Stand, *, samples: int, text: str, counts: tuple[int, ...], stream: str, runs: int, ways: tuple[str, ...]
) -> Screen:
    result = Screen(stream=stream)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with procfs.Others() as others:
                if samples:
                    await first_tokens(browser, stand, samples, text, result)
                    for way in result.ttft:
                        print(f"  screen {way:>8}: first token +{result.added(way, 50) * 1e3:.1f} ms (p50)", flush=True)
                        marks = {name: result.part(way, name) for name in MARKS}
                        shown = ", ".join(f"{name} {value:.1f}" for name, value in marks.items() if value is not None)
                        print(f"  screen {way:>8}: ms from Enter, medians: {shown}", flush=True)
                for way in ways:
                    result.pages[way] = {}
                    for count in counts:
                        result.pages[way][count] = []
                        for _ in range(runs):
                            seconds = await many_pages(browser, stand.server(way), way, count, stream)
                            result.pages[way][count].append(seconds)
                            print(f"  screen {way:>8}: {count} pages at once, slowest {seconds:.2f} s", flush=True)
            result.others_cores = others.cores
        finally:
            await browser.close()
    return result
