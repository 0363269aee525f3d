"""How streams rest between their reads: when, how long, and with their connection unread.

After each read that gave pieces a stream rests, and then takes everything that came
meanwhile as one piece per kind. Every piece costs the process a wake-up, a parse and a
write whatever its size; pages repaint at this rate anyway.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from contextlib import contextmanager

from webapp.llm.transport import CHUNK, Reading

# Seconds a stream rests after each piece while streams are few...
STREAM_PACE = 0.05
# ...and at most, once they are many: past PIECES_PER_SECOND (of all one pacer's streams
# together) the rests grow instead, up to ten pieces a second per stream.
MOST_STREAM_PACE = 0.1
PIECES_PER_SECOND = 640

# A read as full as the transport hands over says more is waiting already: no rest then.
FULL_READ = CHUNK


def until_tick(now: float, seconds: float) -> float:
    """How long a rest of about `seconds` begun at `now` lasts: until the first multiple of `seconds`
    on the loop's clock at least half a rest away (so between 0.5 and 1.5 rests, one on average).

    Streams resting alike thus wake together, in one turn of the event loop, and their reads
    come in one poll."""
    return math.ceil((now + seconds / 2) / seconds) * seconds - now


class Pacer:
    """The rests of the streams read from one engine: their length grows with their number."""

    def __init__(
        self,
        *,
        least: float = STREAM_PACE,
        most: float = MOST_STREAM_PACE,
        pieces_per_second: float = PIECES_PER_SECOND,
    ) -> None:
        self.least, self.most, self.pieces_per_second = least, most, pieces_per_second
        self.streams = 0  # being read now

    def pace(self) -> float:
        """How long each of the streams being read now rests between its pieces."""
        return min(self.most, max(self.least, self.streams / self.pieces_per_second))

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Count a stream among those read now while the block runs."""
        self.streams += 1
        try:
            yield
        finally:
            self.streams -= 1

    async def after_read(
        self, connection: Reading | None, *, size: int, finished: bool, pace: float | None = None
    ) -> None:
        """Rest after a read of `size` bytes that gave pieces, `pace` seconds (None: `self.pace()`;
        0: never).

        No rest after a full read (more is waiting) or once the answer has finished (only the
        usage and `[DONE]` are left)."""
        if size >= FULL_READ or finished or (pace is not None and pace <= 0):
            return
        await self.rest(connection, self.pace() if pace is None else pace)

    async def rest(self, connection: Reading | None, seconds: float) -> None:
        """Rest about `seconds` (`until_tick`) with the connection's reading paused: what comes
        meanwhile waits in the kernel and is read at once afterwards, not one wake-up of the
        HTTP client per token."""
        now = asyncio.get_running_loop().time()
        until = now + until_tick(now, seconds)
        if connection is None or connection.is_closing():
            await self.sleep(until, None)
            return
        connection.pause_reading()
        try:
            await self.sleep(until, connection)
        finally:
            if not connection.is_closing():
                connection.resume_reading()

    async def sleep(self, until: float, connection: Reading | None) -> None:
        """The rest itself, until `until` on the loop's clock, with `connection` (if any) paused."""
        await asyncio.sleep(until - asyncio.get_running_loop().time())
