"""Tokens per second a real browser renders: one long stream, as fast as the upstream can send it.

Headless Chromium (Debian's, through Playwright) opens the page in a fresh context
(a new owner, so the app shows an empty chat), sends one message and waits until
the last token is on the screen. The app's CPU time over the same window gives
its cost per token on the page's own path (Gradio's queue, updates coalesced).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from playwright.async_api import Browser, Page, async_playwright

from bench import procfs
from bench.servers import Server
from bench.upstream import END_MARK

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out from an offline machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PROMPT = {"app": "#prompt textarea", "baseline": "textarea"}


@dataclass(frozen=True, slots=True)
class Render:
    way: str
    tokens: int
    seconds: list[float]  # one per run, from Enter to the last token on screen
    server_cpu: list[float]  # the server's CPU seconds over each run
    others_cores: float = 0.0  # cores other work on the machine took meanwhile

    @property
    def median_seconds(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[len(ordered) // 2]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.median_seconds

    @property
    def cpu_per_token(self) -> float:
        ordered = sorted(self.server_cpu)
        return ordered[len(ordered) // 2] / self.tokens


async def _ready_page(browser: Browser, url: str, way: str) -> Page:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url)
    await page.locator(PROMPT[way]).first.wait_for(state="visible", timeout=60_000)
    await page.wait_for_timeout(1000)  # let the page's load events finish
    return page


async def one_stream(browser: Browser, server: Server, way: str, tokens: int) -> tuple[float, float]:
    """Seconds from Enter to the end mark on screen, and the server's CPU seconds meanwhile."""
    page = await _ready_page(browser, server.url, way)
    try:
        box = page.locator(PROMPT[way]).first
        await box.fill(f"bench:{tokens}@0")
        cpu = server.cpu_seconds()
        started = time.perf_counter()
        await box.press("Enter")
        await page.get_by_text(END_MARK.strip()).first.wait_for(timeout=300_000)
        return time.perf_counter() - started, server.cpu_seconds() - cpu
    finally:
        await page.context.close()


async def measure(servers: dict[str, Server], tokens: int, runs: int) -> dict[str, Render]:
    """Each way `runs` times, taking turns."""
    seconds: dict[str, list[float]] = {way: [] for way in servers}
    cpu: dict[str, list[float]] = {way: [] for way in servers}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with procfs.Others() as others:
                for _ in range(runs):
                    for way, server in servers.items():
                        elapsed, spent = await one_stream(browser, server, way, tokens)
                        seconds[way].append(elapsed)
                        cpu[way].append(spent)
                        print(f"  render {way:>8}: {tokens} tokens on screen in {elapsed:5.2f} s", flush=True)
        finally:
            await browser.close()
    return {way: Render(way, tokens, seconds[way], cpu[way], others.cores) for way in servers}
