"""Rate limits: parsing, the sliding window, and the messages a limited user reads."""

from __future__ import annotations

import pytest

from webapp.errors import RateLimited
from webapp.limits import Admission, Rate, RateLimiter, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20/minute", Rate(20, 60)),
        ("5/10minutes", Rate(5, 600)),
        (" 1000 / day ", Rate(1000, 86400)),
        ("3/second", Rate(3, 1)),
        ("0", None),
        ("", None),
        ("off", None),
    ],
)
def test_rates_are_read(text: str, rate: Rate | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["20", "20/fortnight", "x/minute", "0/minute", "5/0minutes", "-1/minute"])
def test_a_rate_that_cannot_be_read_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="20/minute"):
        parse_rate(text)


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(2, 60), clock=clock)
    assert limiter.hit("a") == 0
    clock.now += 30
    assert limiter.hit("a") == 0
    assert limiter.hit("a") == pytest.approx(30)  # the first event leaves the window in 30 s
    assert limiter.hit("b") == 0  # keys are separate
    clock.now += 30.5
    assert limiter.hit("a") == 0
    assert limiter.hit("a") > 0


def test_a_refused_attempt_is_not_counted() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(1, 10), clock=clock)
    limiter.hit("a")
    for _ in range(5):
        assert limiter.hit("a") > 0
    clock.now += 10.01
    assert limiter.hit("a") == 0


def test_memory_stays_bounded_under_many_keys() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(1, 10), clock=clock, max_keys=100)
    for index in range(100):
        limiter.hit(f"k{index}")
    clock.now += 11
    limiter.hit("new")
    assert len(limiter._events) == 1


def test_admission_names_the_limit_reached_and_when_to_retry() -> None:
    clock = Clock()
    admission = Admission(Rate(2, 60), Rate(3, 60), clock=clock)
    admission.admit("alice", "10.0.0.1")
    admission.admit("alice", "10.0.0.1")
    with pytest.raises(RateLimited, match="you may send 2 per minute") as refused:
        admission.admit("alice", "10.0.0.1")
    assert refused.value.status == 429 and refused.value.retry_after == 60
    admission.admit("bob", "10.0.0.1")  # the address's third message
    with pytest.raises(RateLimited, match="your network address may send 3 per minute"):
        admission.admit("carol", "10.0.0.1")
    admission.admit("carol", "10.0.0.2")


def test_admission_without_limits_admits_everything() -> None:
    admission = Admission(None, None)
    for _ in range(1000):
        admission.admit("alice", "10.0.0.1")
