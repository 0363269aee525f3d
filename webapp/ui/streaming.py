"""How often a streaming answer updates its page: the first piece at once, then at a rate that falls as
more pages stream at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from webapp.llm.pacer import Pacer

# Seconds between a page's updates while few pages stream: a browser re-renders the whole
# message on every update and falls behind at about 180 updates/s...
UPDATE_INTERVAL = 0.05
# ...and once many do, the updates of all pages together stay near this many a second (each
# costs the server a diff and each browser a Markdown render of the message), down to four a
# second per page: on one machine's cores eight pages at twenty updates a second each fall
# behind the stream they show.
PAGE_UPDATES_PER_SECOND = 60
LONGEST_INTERVAL = 0.25


class PageUpdates:
    """The pages streaming now, and the interval between each one's updates."""

    def __init__(self) -> None:
        self.pacer = Pacer(least=UPDATE_INTERVAL, most=LONGEST_INTERVAL, pieces_per_second=PAGE_UPDATES_PER_SECOND)

    @property
    def streaming(self) -> int:
        return self.pacer.streams

    def interval(self) -> float:
        return self.pacer.pace()

    @contextmanager
    def streaming_page(self) -> Iterator[None]:
        with self.pacer.reading():
            yield
