"""bench.concurrency: the runs of a batch become one batch of medians."""

from __future__ import annotations

import dataclasses

from bench.concurrency import Batch, median_of


def _run(elapsed: float, cpu: float, peak: int, events: int) -> Batch:
    return Batch(
        upstream="fixed", way="app", count=64, elapsed=elapsed, tokens=12_800, events=events, ttft_max=0.1,
        server_cpu=cpu, upstream_cpu=0.5, client_cpu=1.0, machine_busy=0.5, others_cpu=0.0, idle_cpu=0.1,
        idle_rss=100, peak_rss=peak,
    )  # fmt: skip


def test_a_batch_run_several_times_keeps_the_median_of_each_figure_and_the_highest_memory() -> None:
    runs = [_run(2.9, 1.4, 300, 2600), _run(2.3, 0.9, 250, 2500), _run(2.5, 1.1, 260, 2700)]
    merged = median_of(runs)
    assert (merged.elapsed, merged.server_cpu, merged.events) == (2.5, 1.1, 2600)
    assert merged.peak_rss == 300
    assert merged.runs == 3
    assert (merged.upstream, merged.way, merged.count, merged.tokens) == ("fixed", "app", 64, 12_800)
    assert merged.cpu_per_token == (1.1 - 0.1) / 12_800
    assert median_of(runs[:1]) == dataclasses.replace(runs[0], runs=1)
