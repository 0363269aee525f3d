"""N chats at once, each from its own user: total time direct, through the app and through the baseline.

Beside the time, each batch records what every process spent: the server's CPU
seconds and peak memory, the upstream's and the load generator's CPU, and how
busy the whole machine was (a batch that found no idle CPU says so).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procfs
from bench import profile as profiling
from bench.clients import WAYS, User, Way
from bench.servers import PeakMemory, Stand

PAUSE = 0.5  # seconds between batches, for sockets and buffers to settle
IDLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Batch:
    upstream: str
    way: str
    count: int
    elapsed: float  # seconds from the first request to the last token of the last chat
    tokens: int  # chats x the upstream's tokens per answer
    events: int  # updates the clients received (vLLM merges tokens when its reader falls behind)
    ttft_max: float
    server_cpu: float  # CPU seconds of the process serving this way (the upstream, for direct)
    upstream_cpu: float
    client_cpu: float  # this process, the load generator
    machine_busy: float  # share of all cores busy during the batch, 0..1
    others_cpu: float  # CPU seconds of everything else on the machine (other people's work) meanwhile
    idle_cpu: float  # of server_cpu, what the server spends anyway (Gradio's queue polls while idle)
    idle_rss: int
    peak_rss: int
    runs: int = 1  # batches this one stands for (`median_of`)

    @property
    def cpu_per_token(self) -> float:
        """The server's CPU per token, less what it spends when idle over the same time."""
        return (self.server_cpu - self.idle_cpu) / self.tokens


def median_of(runs: list[Batch]) -> Batch:
    """The runs of one batch as one: the median of each figure, the highest peak memory.

    The machine's speed moves by a third from one second to the next here (a pure-Python loop:
    0.65-1.28 s), so one run of a batch says little on its own."""
    first = runs[0]
    values: dict[str, object] = {}
    for field in dataclasses.fields(Batch):
        numbers = [getattr(run, field.name) for run in runs]
        if field.name in ("upstream", "way", "count", "tokens"):
            values[field.name] = getattr(first, field.name)
        elif field.name == "peak_rss":
            values[field.name] = max(numbers)
        elif field.name == "runs":
            values[field.name] = len(runs)
        else:
            middle = statistics.median(numbers)
            values[field.name] = type(getattr(first, field.name))(middle)
    return Batch(**values)  # type: ignore[arg-type]


async def batch(stand: Stand, way: Way, count: int, text: str, answer_tokens: int, idle_rate: float = 0.0) -> Batch:
    users = [User(way, stand.upstream, stand.url(way)) for _ in range(count)]
    try:
        await asyncio.gather(*(user.prepare() for user in users))
        await asyncio.sleep(PAUSE)
        server, upstream = stand.server(way), stand.upstream.server
        idle_rss = server.rss()
        before = (server.cpu_seconds(), upstream.cpu_seconds(), procfs.own_cpu_seconds(), procfs.machine_ticks())
        ours_before = procfs.tree_cpu_seconds(os.getpid())
        with PeakMemory(server) as memory:
            started = time.perf_counter()
            timings = await asyncio.gather(*(user.chat(text) for user in users))
            elapsed = time.perf_counter() - started
        busy, total = procfs.machine_ticks()
        busy_delta, total_delta = busy - before[3][0], total - before[3][1]
        server_cpu, upstream_cpu = server.cpu_seconds() - before[0], upstream.cpu_seconds() - before[1]
        client_cpu = procfs.own_cpu_seconds() - before[2]
        ours = procfs.tree_cpu_seconds(os.getpid()) - ours_before  # this process and every server it started
        return Batch(
            upstream=stand.upstream.key,
            way=way,
            count=count,
            elapsed=elapsed,
            tokens=count * answer_tokens,
            events=sum(t.events for t in timings),
            ttft_max=max(t.ttft for t in timings),
            server_cpu=server_cpu,
            upstream_cpu=upstream_cpu,
            client_cpu=client_cpu,
            machine_busy=busy_delta / total_delta if total_delta > 0 else 0.0,
            others_cpu=max(0.0, busy_delta / procfs.TICK - ours),
            idle_cpu=min(server_cpu, idle_rate * elapsed),
            idle_rss=idle_rss,
            peak_rss=memory.peak,
        )
    finally:
        await asyncio.gather(*(user.aclose() for user in users))


async def idle_rates(stand: Stand, seconds: float = IDLE_SECONDS) -> dict[str, float]:
    """CPU seconds per second each server spends with no request at all."""
    before = {way: stand.server(way).cpu_seconds() for way in WAYS}
    await asyncio.sleep(seconds)
    return {way: (stand.server(way).cpu_seconds() - before[way]) / seconds for way in WAYS}


async def turns(stand: Stand, text: str, count: int, repeats: int = 1) -> list[Batch]:
    """`count` chats with answers of a token or two, through the app and the baseline: what a turn
    costs apart from its tokens (the request, the database, opening the upstream stream). The app's
    batch runs `repeats` times (its median kept), the baseline's once."""
    reference = User("direct", stand.upstream, stand.url("direct"))
    answer_tokens = (await reference.chat(text)).tokens
    await reference.aclose()
    idle = await idle_rates(stand)
    out = []
    for way in ("app", "baseline"):
        runs = []
        for _ in range(repeats if way == "app" else 1):
            result = await batch(stand, way, count, text, answer_tokens, idle[way])
            cpu = result.server_cpu
            print(f"  turns {way:>8} {count:>3} chats of {answer_tokens} tokens: server CPU {cpu:5.2f} s", flush=True)
            runs.append(result)
            await asyncio.sleep(PAUSE)
        out.append(median_of(runs))
    return out


async def measure(
    stand: Stand, text: str, counts: tuple[int, ...], repeats: int = 1, profile: Path | None = None
) -> tuple[list[Batch], dict[str, float]]:
    """Every count, each way in turn, `repeats` times (the baseline's once: at 64 chats it takes two
    minutes), the median of each kept; with `profile`, where the app's CPU went in the largest batch
    (py-spy's raw samples are written there)."""
    reference = User("direct", stand.upstream, stand.url("direct"))
    answer_tokens = (await reference.chat(text)).tokens  # the upstream's own count
    await reference.aclose()
    idle = await idle_rates(stand)
    print("  idle CPU, ms/s: " + ", ".join(f"{way} {rate * 1e3:.0f}" for way, rate in idle.items()), flush=True)
    batches = []
    for count in counts:
        runs: dict[Way, list[Batch]] = {way: [] for way in WAYS}
        for run in range(repeats):
            for way in WAYS:
                if way == "baseline" and run > 0:
                    continue
                result = await batch(stand, way, count, text, answer_tokens, idle[way])
                print(
                    f"  {stand.upstream.key:>5} {way:>8} {count:>3} chats: {result.elapsed:6.2f} s, "
                    f"{result.tokens} tokens, server CPU {result.server_cpu:5.2f} s, machine "
                    f"{result.machine_busy:4.0%} busy, others {result.others_cpu / result.elapsed:3.1f} cores",
                    flush=True,
                )
                runs[way].append(result)
                await asyncio.sleep(PAUSE)
        batches += [median_of(runs[way]) for way in WAYS]
    parts: dict[str, float] = {}
    if profile is not None and (recorder := profiling.start(stand.app.process.pid, profile)) is not None:
        # Once more under the profiler, apart: its pauses must not weigh on the figures above.
        await batch(stand, "app", max(counts), text, answer_tokens)
        profiling.stop(recorder)
        parts = profiling.breakdown(profile)
    return batches, parts
