"""Calls that arrive together, run as one: a burst of turns stores its messages in one transaction.

A transaction per call would queue a burst behind one writer at a time (SQLite's rule), each
paying a commit, a thread hop and a wait for the GIL before its first token. So the first call
runs at once, and the calls that arrive while it runs wait and go together in the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batches(Generic[Item, Result]):
    """`run(items)` in a thread for whatever `call`s are waiting, one run at a time.

    `run` returns one result per item, in order; an exception in that list fails its own call
    only (an unknown conversation among others), one that `run` raises fails every call of its run.
    """

    def __init__(self, run: Callable[[list[Item]], Sequence[Result | Exception]]) -> None:
        self._run = run
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def call(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._draining is None or self._draining.done():  # (done: its loop was closed mid-run)
            self._draining = asyncio.get_running_loop().create_task(self._drain())
        # A caller that goes away cancels its future, not its item: that runs (is stored) all
        # the same, as a call already in a thread would.
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = list(await asyncio.to_thread(self._run, [item for item, _ in batch]))
                    if len(results) != len(batch):
                        raise RuntimeError(f"{len(results)} results for {len(batch)} calls")
                except asyncio.CancelledError:
                    for _, future in batch:
                        future.cancel()
                    raise
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = None
