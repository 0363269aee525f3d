"""Every measurement of a run, and the figures it yields: value, baseline, ratio, target, pass or fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.concurrency import Batch
from bench.history import History
from bench.latency import Latency
from bench.render import Render
from bench.screen import Screen

MS = 1e3
US = 1e6
MB = 2**20

TTFT_TARGET_MS = 20.0
PAGES_TARGET = 1.5  # N pages streaming at once / one page
RENDER_TARGET = 1000.0
CONCURRENCY_TARGET = 1.25
CPU_TARGET_US = 50.0
HISTORY_TARGET_MS = 50.0
MEMORY_TARGET_MB = 400.0
BIG_BATCH = 64


@dataclass
class Results:
    """What one run measured, with the plan it followed."""

    plan: dict[str, object]
    latency: dict[str, Latency] = field(default_factory=dict)  # by upstream key
    batches: list[Batch] = field(default_factory=list)
    render: dict[str, Render] = field(default_factory=dict)  # by way
    history: History | None = None
    screen: Screen | None = None
    upstream_labels: dict[str, str] = field(default_factory=dict)
    profile: dict[str, float] = field(default_factory=dict)  # part of a chat -> share of the app's CPU samples
    turns: list[Batch] = field(default_factory=list)  # the biggest batch again, with answers of a token or two
    reader_cpu: dict[str, float] = field(default_factory=dict)  # by upstream: bench.floor's CPU s per token

    def batch(self, upstream: str, way: str, count: int) -> Batch | None:
        return next((b for b in self.batches if (b.upstream, b.way, b.count) == (upstream, way, count)), None)

    def counts(self, upstream: str) -> list[int]:
        return sorted({b.count for b in self.batches if b.upstream == upstream})


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    upstream: str
    unit: str
    value: float
    baseline: float | None = None
    direct: float | None = None
    target: float | None = None
    higher_is_better: bool = False
    digits: int = 1

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:g}"

    def show(self, number: float | None) -> str:
        return "" if number is None else f"{number:,.{self.digits}f}"


def _busy_cpu(batch: Batch) -> float:
    return batch.server_cpu - batch.idle_cpu


def _turn_figures(results: Results) -> list[Figure]:
    """The app's CPU per token, split: what each turn costs whatever its length, and each token beyond."""
    out = []
    for turn in (t for t in results.turns if t.way == "app"):
        base_turn = next((t for t in results.turns if t.way == "baseline" and t.upstream == turn.upstream), None)
        out.append(
            Figure(
                f"app CPU per chat turn, {turn.count} chats of {turn.tokens // turn.count} tokens",
                turn.upstream,
                "ms",
                _busy_cpu(turn) / turn.count * MS,
                baseline=_busy_cpu(base_turn) / base_turn.count * MS if base_turn else None,
                digits=1,
            )
        )
        full, base_full = (
            results.batch(turn.upstream, "app", turn.count),
            results.batch(turn.upstream, "baseline", turn.count),
        )
        if full is not None and full.tokens > turn.tokens:
            base_value = None
            if base_full is not None and base_turn is not None and base_full.tokens > base_turn.tokens:
                base_value = (_busy_cpu(base_full) - _busy_cpu(base_turn)) / (base_full.tokens - base_turn.tokens) * US
            out.append(
                Figure(
                    f"app CPU per streamed token beyond the turn's own cost, {turn.count} chats",
                    turn.upstream,
                    "µs",
                    (_busy_cpu(full) - _busy_cpu(turn)) / (full.tokens - turn.tokens) * US,
                    baseline=base_value,
                    digits=0,
                )
            )
    return out


def _screen_figures(screen: Screen) -> list[Figure]:
    """In Chromium: the first token on screen over a direct call, and N pages streaming at once over one."""
    out = []
    if screen.ttft:
        for q in (50, 95):
            out.append(
                Figure(
                    f"first token on screen added, p{q} (Enter to DOM)",
                    "fixed",
                    "ms",
                    screen.added("app", q) * MS,
                    baseline=screen.added("baseline", q) * MS if "baseline" in screen.ttft else None,
                    target=TTFT_TARGET_MS if q == 50 else None,
                )
            )
    counts = sorted(screen.pages.get("app", {}))
    if len(counts) > 1:
        one, most = counts[0], counts[-1]
        base = screen.pages.get("baseline", {})
        out.append(
            Figure(
                f"{most} pages streaming at once / {one} page, time on screen",
                "fixed",
                "×",
                screen.slowest("app", most) / screen.slowest("app", one),
                baseline=screen.slowest("baseline", most) / screen.slowest("baseline", one)
                if one in base and most in base
                else None,
                target=PAGES_TARGET,
                digits=2,
            )
        )
    return out


def figures(results: Results) -> list[Figure]:
    out: list[Figure] = []
    if results.screen is not None:
        out += _screen_figures(results.screen)
    for key, latency in results.latency.items():
        for q in (50, 95):
            out.append(
                Figure(
                    f"time to first token added, p{q}",
                    key,
                    "ms",
                    latency.added("app", q) * MS,
                    baseline=latency.added("baseline", q) * MS,
                    target=TTFT_TARGET_MS if q == 50 else None,
                )
            )
    if results.render:
        page, page_base = results.render["app"], results.render["baseline"]
        out.append(
            Figure(
                f"tokens/s rendered in Chromium, one {page.tokens:,}-token stream",
                "fixed",
                "tok/s",
                page.tokens_per_s,
                baseline=page_base.tokens_per_s,
                target=RENDER_TARGET,
                higher_is_better=True,
                digits=0,
            )
        )
    for key in results.latency.keys() | {b.upstream for b in results.batches}:
        counts = results.counts(key)
        if not counts:
            continue
        most = max(counts)
        for count in counts:
            app, base, direct = (results.batch(key, way, count) for way in ("app", "baseline", "direct"))
            if app is not None:
                out.append(
                    Figure(
                        f"{count} concurrent chats, total time",
                        key,
                        "s",
                        app.elapsed,
                        baseline=base.elapsed if base else None,
                        direct=direct.elapsed if direct else None,
                        digits=2,
                    )
                )
        app_one, app_most = results.batch(key, "app", 1), results.batch(key, "app", most)
        base_one, base_most = results.batch(key, "baseline", 1), results.batch(key, "baseline", most)
        direct_one, direct_most = results.batch(key, "direct", 1), results.batch(key, "direct", most)
        if app_one and app_most and base_one and base_most and most > 1:
            out.append(
                Figure(
                    f"{most} concurrent chats / 1 chat, time",
                    key,
                    "×",
                    app_most.elapsed / app_one.elapsed,
                    baseline=base_most.elapsed / base_one.elapsed,
                    direct=direct_most.elapsed / direct_one.elapsed if direct_one and direct_most else None,
                    target=CONCURRENCY_TARGET if key == "fixed" and most == BIG_BATCH else None,
                    digits=2,
                )
            )
        if app_most and base_most:
            out.append(
                Figure(
                    f"app CPU per streamed token, {most} chats (REST)",
                    key,
                    "µs",
                    app_most.cpu_per_token * US,
                    baseline=base_most.cpu_per_token * US,
                    direct=results.reader_cpu[key] * US if key in results.reader_cpu else None,
                    target=CPU_TARGET_US if key == "fixed" else None,
                    digits=0,
                )
            )
            out.append(
                Figure(
                    f"app memory (peak RSS) at {most} streams",
                    key,
                    "MB",
                    app_most.peak_rss / MB,
                    baseline=base_most.peak_rss / MB,
                    target=MEMORY_TARGET_MB if most == BIG_BATCH else None,
                    digits=0,
                )
            )
    out += _turn_figures(results)
    if results.render:
        page, page_base = results.render["app"], results.render["baseline"]
        out.append(
            Figure(
                "app CPU per streamed token, page in Chromium (idle included)",
                "fixed",
                "µs",
                page.cpu_per_token * US,
                baseline=page_base.cpu_per_token * US,
                digits=0,
            )
        )
    if results.history is not None:
        history = results.history
        for operation in ("list", "search", "open"):
            out.append(
                Figure(
                    f"history {operation}, p95 (Store)",
                    "history",
                    "ms",
                    history.quantile("store", operation, 95) * MS,
                    baseline=history.quantile("unindexed", operation, 95) * MS,
                    target=HISTORY_TARGET_MS,
                )
            )
        for operation in ("list", "search", "open"):
            out.append(
                Figure(
                    f"history {operation}, p95 (REST API)",
                    "history",
                    "ms",
                    history.quantile("api", operation, 95) * MS,
                    target=HISTORY_TARGET_MS,
                )
            )
    order = {"fixed": 0, "vllm": 1, "history": 2}
    return sorted(out, key=lambda f: order.get(f.upstream, 3))  # stable: each upstream's figures keep their order
