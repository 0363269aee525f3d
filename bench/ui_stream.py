"""How fast the chat page renders a stream, and how it serves 8 chats at once.

Both run against a fixed-rate OpenAI-compatible stream (tests/fakes.py), so the
figures are the UI's own limits, side by side with the common baseline: a Gradio
`ChatInterface` that yields every token, with default queue settings.

    .venv/bin/python -m bench.ui_stream
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import httpx
import openai
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, make_settings, serve
from tests.fakes import FakeEngine, Reply, serve_fake
from webapp.application import create_app

FAST_TOKENS = 2000
END = " END-OF-ANSWER"
RATE_TOKENS = 200
RATE_INTERVAL = 0.01  # 100 tokens/s per chat
CONCURRENT = 8


def baseline_app(engine_url: str) -> FastAPI:
    """The pattern of vLLM's and Gradio's own examples: yield the whole text at every token."""
    client = openai.AsyncOpenAI(base_url=engine_url, api_key="EMPTY")

    async def respond(message: str, history: list[Any]) -> AsyncIterator[str]:
        stream = await client.chat.completions.create(
            model="fake-r1", messages=[{"role": "user", "content": message}], stream=True
        )
        text = ""
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
                yield text

    demo = gr.ChatInterface(respond, analytics_enabled=False)
    app: FastAPI = gr.mount_gradio_app(FastAPI(), demo, path="/")
    return app


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    with serve(app, free_port()) as url:
        yield url


async def send(page: Page, text: str, ours: bool) -> None:
    box = page.locator("#prompt textarea" if ours else "textarea").first
    await box.fill(text)
    await box.press("Enter")


async def time_one_stream(browser: Any, url: str, ours: bool) -> float:
    page = await browser.new_page()
    await page.goto(url)
    await page.wait_for_timeout(500)
    started = time.perf_counter()
    await send(page, "go", ours)
    await page.get_by_text(END.strip()).first.wait_for(timeout=120_000)
    elapsed = time.perf_counter() - started
    await page.close()
    return elapsed


async def time_concurrent(browser: Any, url: str, ours: bool, count: int) -> float:
    pages = []
    for _ in range(count):
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(url)
        pages.append(page)
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    await asyncio.gather(*(send(page, "go", ours) for page in pages))
    await asyncio.gather(*(page.get_by_text(END.strip()).first.wait_for(timeout=300_000) for page in pages))
    elapsed = time.perf_counter() - started
    for page in pages:
        await page.context.close()
    return elapsed


async def time_api_concurrent(url: str, count: int) -> float:
    """The same chats through the REST API: the server's own time, without browsers sharing the CPU."""

    async def one(http: httpx.AsyncClient) -> None:
        conversation = (await http.post("/api/conversations")).json()["id"]
        async with http.stream("POST", f"/api/conversations/{conversation}/messages", json={"content": "go"}) as r:
            async for line in r.aiter_lines():
                if '"type": "done"' in line:
                    return
        raise RuntimeError("the stream ended without a done event")

    clients = [httpx.AsyncClient(base_url=url, timeout=120) for _ in range(count)]
    started = time.perf_counter()
    await asyncio.gather(*(one(http) for http in clients))
    elapsed = time.perf_counter() - started
    for http in clients:
        await http.aclose()
    return elapsed


async def measure(url: str, fake: FakeEngine, ours: bool) -> dict[str, float]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        fake.replies = [Reply(["Thinking."], ["tok "] * FAST_TOKENS + [END])]
        fast = await time_one_stream(browser, url, ours)
        print(f"  {'app' if ours else 'baseline'}: {FAST_TOKENS} tokens rendered in {fast:.2f} s", flush=True)
        fake.replies = [Reply(["Thinking."], ["tok "] * RATE_TOKENS + [END], interval=RATE_INTERVAL)]
        one = await time_concurrent(browser, url, ours, 1)
        print(f"  {'app' if ours else 'baseline'}: 1 chat in {one:.2f} s", flush=True)
        many = await time_concurrent(browser, url, ours, CONCURRENT)
        await browser.close()
    figures = {"rendered_tokens_per_s": FAST_TOKENS / fast, "one_chat_s": one, "eight_chats_s": many}
    if ours:
        figures["api_one_chat_s"] = await time_api_concurrent(url, 1)
        figures["api_eight_chats_s"] = await time_api_concurrent(url, CONCURRENT)
    return figures


def main() -> None:
    fake = FakeEngine()
    with serve_fake(fake) as engine_url, tempfile.TemporaryDirectory() as data:
        settings = make_settings(vllm_base_url=engine_url, port=free_port(), data_dir=Path(data))
        with running(create_app(settings)) as url:
            ours = asyncio.run(measure(url, fake, ours=True))
        with running(baseline_app(engine_url)) as url:
            base = asyncio.run(measure(url, fake, ours=False))
    print(f"{'figure':<34}{'this app':>12}{'baseline':>12}{'ratio':>8}")
    rows = [
        (f"tokens/s rendered, {FAST_TOKENS}-token stream", "rendered_tokens_per_s", "{:.0f}"),
        (f"1 chat, {RATE_TOKENS} tok at 100 tok/s (s)", "one_chat_s", "{:.2f}"),
        (f"{CONCURRENT} concurrent chats (s)", "eight_chats_s", "{:.2f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:<34}{fmt.format(ours[key]):>12}{fmt.format(base[key]):>12}{ours[key] / base[key]:>8.2f}")
    print(
        f"through the REST API (no browsers): 1 chat {ours['api_one_chat_s']:.2f} s, "
        f"{CONCURRENT} chats {ours['api_eight_chats_s']:.2f} s "
        f"({ours['api_eight_chats_s'] / ours['api_one_chat_s']:.2f}x)"
    )
    print(f"{CONCURRENT} chats / 1 chat in the browser: this app {ours['eight_chats_s'] / ours['one_chat_s']:.2f}x, "
          f"baseline {base['eight_chats_s'] / base['one_chat_s']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
