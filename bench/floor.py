"""The floor of the CPU-per-token figure: what reading the same streams costs with nothing else done.

A process of its own opens `count` streamed chat completions at once on aiohttp, as the app
does, and reads them the app's way (resting `STREAM_PACE` between reads with the connection
paused, every chunk's JSON through the app's `ServerSentData`), and does nothing else: no
database, no client to pass tokens on to. Its CPU per token is the *direct* column of the
app's CPU-per-token figure: what reading the upstream costs before any of the app's own work.

    python -m bench.floor --url http://127.0.0.1:8001/v1 --model m --key k --text bench:200@100 --count 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys

import aiohttp
import uvloop

from bench.servers import ROOT, Upstream
from webapp.llm.pacer import STREAM_PACE, Pacer
from webapp.llm.stream import ServerSentData
from webapp.llm.transport import CHUNK, Reading


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _read(session: aiohttp.ClientSession, url: str, body: dict[str, object]) -> int:
    """One stream, read as it comes; the tokens it carried (the upstream's usage count)."""
    tokens, events, pacer = 0, ServerSentData(), Pacer()
    async with session.post(f"{url}/chat/completions", json=body) as response:
        response.raise_for_status()
        transport = response.connection.transport if response.connection else None
        connection = transport if isinstance(transport, Reading) else None
        while data := await response.content.read(CHUNK):
            for chunk in events.feed(data):
                tokens = chunk["usage"]["completion_tokens"] if chunk.get("usage") else tokens
            if len(data) < CHUNK and not tokens:  # the usage comes last: no rest after it
                await pacer.rest(connection, STREAM_PACE)
    return tokens


async def _measure(url: str, model: str, key: str, text: str, count: int) -> dict[str, float]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=600)) as session:
        await asyncio.gather(*(_read(session, url, body) for _ in range(count)))  # connections opened, warmed
        before = _cpu_seconds()
        tokens = sum(await asyncio.gather(*(_read(session, url, body) for _ in range(count))))
        return {"cpu_seconds": _cpu_seconds() - before, "tokens": tokens}


def cpu_per_token(upstream: Upstream, text: str, count: int, repeats: int = 1) -> float:
    """CPU seconds per token of the bare reader, `count` streams at once, run in its own process
    (the median of `repeats` runs)."""
    command = [sys.executable, "-m", "bench.floor", "--url", upstream.base_url, "--model", upstream.model]
    command += ["--key", upstream.api_key, "--text", text, "--count", str(count)]
    runs = []
    for _ in range(repeats):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
        measured = json.loads(done.stdout)
        runs.append(float(measured["cpu_seconds"]) / max(1, int(measured["tokens"])))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the upstream's OpenAI base URL (ends in /v1)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--key", default="EMPTY")
    parser.add_argument("--text", required=True)
    parser.add_argument("--count", type=int, default=64)
    args = parser.parse_args()
    # uvloop, as uvicorn runs the app.
    print(json.dumps(uvloop.run(_measure(args.url, args.model, args.key, args.text, args.count))))


if __name__ == "__main__":
    main()
