"""How often a streaming answer updates its page, as more pages stream at once."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from webapp.ui.streaming import LONGEST_INTERVAL, PAGE_UPDATES_PER_SECOND, UPDATE_INTERVAL, PageUpdates


@pytest.mark.parametrize(
    ("pages", "interval"),
    [
        (0, UPDATE_INTERVAL),
        (1, UPDATE_INTERVAL),
        (3, UPDATE_INTERVAL),
        (8, 8 / PAGE_UPDATES_PER_SECOND),
        (100, LONGEST_INTERVAL),
    ],
)
def test_a_pages_updates_thin_out_as_more_pages_stream_at_once(pages: int, interval: float) -> None:
    updates = PageUpdates()
    with ExitStack() as streaming:
        for _ in range(pages):
            streaming.enter_context(updates.streaming_page())
        assert updates.interval() == pytest.approx(interval)


def test_a_page_that_stops_streaming_no_longer_counts() -> None:
    updates = PageUpdates()
    with updates.streaming_page(), updates.streaming_page():
        assert updates.streaming == 2
    assert updates.streaming == 0
    assert updates.interval() == UPDATE_INTERVAL


def test_eight_pages_together_update_less_often_than_eight_times_one_page() -> None:
    updates = PageUpdates()
    alone = 1 / updates.interval()
    with ExitStack() as streaming:
        for _ in range(8):
            streaming.enter_context(updates.streaming_page())
        assert 8 / updates.interval() < 8 * alone
