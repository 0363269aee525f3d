"""`python -m bench`: the app against the common Gradio baseline, on a fixed-rate stream and on a real vLLM.

Prints a table of every figure (value, baseline, ratio, target, pass or fail) and,
for a full run, writes docs/benchmarks.md with its plots in docs/bench/.

    python -m bench            # the full run, several minutes
    python -m bench --quick    # a small run, for development; writes no docs unless --docs is given
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import concurrency, floor, history, latency, render, report, screen
from bench.figures import Results
from bench.servers import APP, ROOT, fixed_rate_upstream, stand, vllm_upstream

VLLM_PROMPT = "Hello"  # the scripted model answers anything with the same 14 tokens


@dataclass(frozen=True)
class Plan:
    counts: tuple[int, ...] = (1, 8, 32, 64)
    repeats: int = 3  # runs of each batch through the app and direct, the median kept
    chat_tokens: int = 200
    chat_rate: int = 100  # tokens/s per chat
    ttft_samples: int = 40
    render_tokens: int = 2000
    render_runs: int = 5
    history_conversations: int = 10_000
    history_messages_each: int = 20
    history_samples: int = 30
    screen_samples: int = 25  # sends timed on screen, each way
    screen_pages: tuple[int, ...] = (1, 8)  # pages streaming at once
    screen_runs: int = 3


QUICK = Plan(
    counts=(1, 8),
    repeats=1,
    chat_tokens=100,
    ttft_samples=8,
    render_tokens=500,
    render_runs=1,
    history_conversations=500,
    history_samples=8,
    screen_samples=8,
    screen_runs=1,
)
SECTIONS = ("latency", "screen", "concurrency", "render", "history", "vllm")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for development (writes no docs)")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections to run (default: all of {SECTIONS})"
    )
    parser.add_argument("--docs", type=Path, help="write benchmarks.md and bench/*.png here (default: docs/, full run)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    parser.add_argument(
        "--app", type=Path, default=APP, help="the app.py to measure, e.g. of another checkout (default: this one)"
    )
    return parser.parse_args(argv)


def run(plan: Plan, sections: set[str], work: Path, app: Path = APP) -> Results:
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = Results(plan=asdict(plan))
    fixed_text = f"bench:{plan.chat_tokens}@{plan.chat_rate}"
    with fixed_rate_upstream(logs) as fixed:
        results.upstream_labels[fixed.key] = fixed.label
        if sections & {"latency", "screen", "concurrency", "render"}:
            print("fixed-rate stream: app and baseline starting", flush=True)
            with stand(fixed, logs, work / "app-fixed", app) as servers:
                if "latency" in sections:
                    results.latency["fixed"] = asyncio.run(latency.measure(servers, "bench:20@0", plan.ttft_samples))
                if "screen" in sections:
                    results.screen = asyncio.run(
                        screen.measure(
                            servers,
                            samples=plan.screen_samples,
                            text="bench:20@0",
                            counts=plan.screen_pages,
                            stream=fixed_text,
                            runs=plan.screen_runs,
                            ways=("app", "baseline"),
                        )
                    )
                if "concurrency" in sections:
                    batches, results.profile = asyncio.run(
                        concurrency.measure(
                            servers, fixed_text, plan.counts, plan.repeats, profile=work / "app-profile.txt"
                        )
                    )
                    results.batches += batches
                    results.turns = asyncio.run(concurrency.turns(servers, "bench:2@0", max(plan.counts), plan.repeats))
                    results.reader_cpu[fixed.key] = floor.cpu_per_token(
                        fixed, fixed_text, max(plan.counts), plan.repeats
                    )
                if "render" in sections:
                    pages = {"app": servers.app, "baseline": servers.baseline}
                    results.render = asyncio.run(render.measure(pages, plan.render_tokens, plan.render_runs))
        if "history" in sections:
            results.history = history.measure(
                work,
                logs,
                fixed,
                conversations=plan.history_conversations,
                per_conversation=plan.history_messages_each,
                samples=plan.history_samples,
            )
    if "vllm" in sections and sections & {"latency", "concurrency"}:
        print("vLLM: building the tiny model, starting the server, the app and the baseline", flush=True)
        with vllm_upstream(logs, work) as engine, stand(engine, logs, work / "app-vllm", app) as servers:
            results.upstream_labels[engine.key] = engine.label
            if "latency" in sections:
                results.latency["vllm"] = asyncio.run(latency.measure(servers, VLLM_PROMPT, plan.ttft_samples))
            if "concurrency" in sections:
                results.batches += asyncio.run(concurrency.measure(servers, VLLM_PROMPT, plan.counts, plan.repeats))[0]
                results.reader_cpu[engine.key] = floor.cpu_per_token(
                    engine, VLLM_PROMPT, max(plan.counts), plan.repeats
                )
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    plan = QUICK if args.quick else Plan()
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := sections - set(SECTIONS):
        raise SystemExit(f"unknown sections: {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    docs = args.docs or (None if args.quick else ROOT / "docs")
    started_at = time.strftime("%Y-%m-%d %H:%M %Z")
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    print(f"work directory (logs, databases): {work}", flush=True)
    try:
        results = run(plan, sections, work, args.app.resolve())
    except BaseException:
        print(f"kept the work directory for its logs: {work}", file=sys.stderr)
        raise
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - started
    print()
    print(report.table(results))
    print(f"\n{seconds / 60:.1f} minutes")
    if docs is not None:
        command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
        written = report.write(results, docs, command=command.strip(), seconds=seconds, started=started_at)
        print(f"wrote {written}")


if __name__ == "__main__":
    main()
