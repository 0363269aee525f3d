"""PNG plots of a run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from bench.figures import (
    CPU_TARGET_US,
    HISTORY_TARGET_MS,
    MB,
    MEMORY_TARGET_MB,
    MS,
    RENDER_TARGET,
    TTFT_TARGET_MS,
    US,
    Results,
)

COLOURS = {"direct": "#888888", "app": "#1f77b4", "baseline": "#d62728", "store": "#1f77b4",
           "unindexed": "#d62728", "api": "#2ca02c"}  # fmt: skip
LABELS = {"fixed": "fixed-rate stream", "vllm": "vLLM, tiny model"}


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _plain_log(axes: Any, axis: str = "y") -> None:
    """A log scale labelled 0.5, 1, 2 ... rather than 5×10⁻¹."""
    getattr(axes, f"set_{axis}scale")("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    target = axes.yaxis if axis == "y" else axes.xaxis
    target.set_major_formatter(plain)
    target.set_minor_formatter(plain)
    axes.tick_params(axis=axis, which="minor", labelsize=7)


def _target(axes: Any, value: float, text: str) -> None:
    axes.axhline(value, color="black", linestyle="--", linewidth=1)
    axes.annotate(text, (0, value), xycoords=("axes fraction", "data"), xytext=(4, 3), textcoords="offset points")


def concurrency(results: Results, path: Path) -> Path | None:
    keys = [key for key in ("fixed", "vllm") if results.counts(key)]
    if not keys:
        return None
    figure, axes_row = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4), squeeze=False)
    for axes, key in zip(axes_row[0], keys, strict=True):
        counts = results.counts(key)
        for way in ("direct", "app", "baseline"):
            batches = [results.batch(key, way, count) for count in counts]
            axes.plot(counts, [b.elapsed if b else float("nan") for b in batches], "o-", color=COLOURS[way], label=way)
        axes.set_xscale("log", base=2)
        _plain_log(axes)
        axes.set_xticks(counts, [str(c) for c in counts])
        axes.set_xlabel("concurrent chats")
        axes.set_ylabel("total time, s")
        axes.set_title(LABELS[key])
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    return _save(figure, path)


def latency(results: Results, path: Path) -> Path | None:
    if not results.latency:
        return None
    figure, axes = plt.subplots(figsize=(6.5, 4))
    labels, app, base = [], [], []
    for key, measured in results.latency.items():
        for q in (50, 95):
            labels.append(f"{LABELS[key]}\np{q}")
            app.append(measured.added("app", q) * MS)
            base.append(measured.added("baseline", q) * MS)
    positions = range(len(labels))
    axes.bar([p - 0.2 for p in positions], app, 0.4, color=COLOURS["app"], label="app")
    axes.bar([p + 0.2 for p in positions], base, 0.4, color=COLOURS["baseline"], label="baseline")
    axes.set_xticks(list(positions), labels)
    axes.set_ylabel("time to first token added over direct, ms")
    _target(axes, TTFT_TARGET_MS, f"target (p50) {TTFT_TARGET_MS:g} ms")
    axes.legend()
    return _save(figure, path)


def render(results: Results, path: Path) -> Path | None:
    if not results.render:
        return None
    figure, axes = plt.subplots(figsize=(4.5, 4))
    ways = list(results.render)
    axes.bar(ways, [results.render[w].tokens_per_s for w in ways], color=[COLOURS[w] for w in ways])
    axes.set_ylabel("tokens/s on screen (median run)")
    axes.set_title(f"one {results.render[ways[0]].tokens:,}-token stream, Chromium")
    _target(axes, RENDER_TARGET, f"target {RENDER_TARGET:g}")
    return _save(figure, path)


def resources(results: Results, path: Path) -> Path | None:
    most = max(results.counts("fixed") or [0])
    app, base = results.batch("fixed", "app", most), results.batch("fixed", "baseline", most)
    if app is None or base is None:
        return None
    figure, (cpu, memory) = plt.subplots(1, 2, figsize=(8, 4))
    cpu.bar(["app", "baseline"], [app.cpu_per_token * US, base.cpu_per_token * US],
            color=[COLOURS["app"], COLOURS["baseline"]])  # fmt: skip
    cpu.set_ylabel("server CPU per token, µs")
    cpu.set_title(f"{most} chats, fixed-rate stream")
    _target(cpu, CPU_TARGET_US, f"target {CPU_TARGET_US:g} µs")
    memory.bar(["app idle", "app peak", "baseline peak"], [app.idle_rss / MB, app.peak_rss / MB, base.peak_rss / MB],
               color=[COLOURS["direct"], COLOURS["app"], COLOURS["baseline"]])  # fmt: skip
    memory.set_ylabel("resident memory, MB")
    memory.set_title(f"at {most} streams")
    _target(memory, MEMORY_TARGET_MB, f"target {MEMORY_TARGET_MB:g} MB")
    return _save(figure, path)


def history(results: Results, path: Path) -> Path | None:
    measured = results.history
    if measured is None:
        return None
    figure, axes = plt.subplots(figsize=(7, 4))
    operations = ["list", "search", "open"]
    ways = list(measured.times)
    width = 0.8 / len(ways)
    for index, way in enumerate(ways):
        xs = [i + (index - (len(ways) - 1) / 2) * width for i, op in enumerate(operations)]
        values = [measured.quantile(way, op, 95) * MS if op in measured.times[way] else 0 for op in operations]
        axes.bar(xs, values, width, color=COLOURS[way], label=way)
    axes.set_xticks(range(len(operations)), operations)
    _plain_log(axes)
    axes.set_ylabel("p95, ms")
    axes.set_title(f"{measured.conversations:,} conversations, {measured.messages:,} messages")
    _target(axes, HISTORY_TARGET_MS, f"target {HISTORY_TARGET_MS:g} ms")
    axes.legend()
    return _save(figure, path)


def draw(results: Results, directory: Path) -> dict[str, Path]:
    """Every plot the run has data for, by name."""
    drawn = {
        "latency": latency(results, directory / "latency.png"),
        "concurrency": concurrency(results, directory / "concurrency.png"),
        "render": render(results, directory / "render.png"),
        "resources": resources(results, directory / "resources.png"),
        "history": history(results, directory / "history.png"),
    }
    return {name: path for name, path in drawn.items() if path is not None}
