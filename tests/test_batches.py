"""webapp.chat.batches: calls that arrive while one runs go together in the next run."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.helpers import until
from webapp.chat.batches import Batches


class Recorder:
    """A run that records its batches, refuses odd numbers, and holds its first run until released."""

    def __init__(self) -> None:
        self.runs: list[list[int]] = []
        self.release = threading.Event()
        self.held = threading.Event()  # the first run has started and is being held

    def __call__(self, items: list[int]) -> list[int | Exception]:
        if not self.runs:
            self.held.set()
            self.release.wait(timeout=10)
        self.runs.append(items)
        if -1 in items:
            raise OSError("disk full")
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_calls_arriving_during_a_run_go_together_in_the_next() -> None:
    run = Recorder()
    batches: Batches[int, int] = Batches(run)
    first = asyncio.ensure_future(batches.call(0))
    assert await asyncio.to_thread(run.held.wait, 10)  # the first run has started, alone, and is held
    later = [asyncio.ensure_future(batches.call(i)) for i in (2, 3, 4)]
    await until(lambda: len(batches._waiting), lambda waiting: waiting == 3)  # all three wait for the next run
    run.release.set()
    assert await first == 0
    results = await asyncio.gather(*later, return_exceptions=True)
    assert results[0] == 20 and results[2] == 40
    assert isinstance(results[1], ValueError)  # its own error, the others unharmed
    assert run.runs == [[0], [2, 3, 4]]


async def test_a_failed_run_fails_its_calls_and_the_next_run_works() -> None:
    run = Recorder()
    run.release.set()
    batches: Batches[int, int] = Batches(run)
    with pytest.raises(OSError, match="disk full"):
        await batches.call(-1)
    assert await batches.call(6) == 60


async def test_a_caller_that_goes_away_leaves_its_item_to_run() -> None:
    run = Recorder()
    batches: Batches[int, int] = Batches(run)
    leaving = asyncio.ensure_future(batches.call(8))
    assert await asyncio.to_thread(run.held.wait, 10)  # 8 is in a run
    leaving.cancel()
    run.release.set()
    assert await batches.call(10) == 100
    assert run.runs == [[8], [10]]  # 8 ran (was stored) though nobody waited for it
