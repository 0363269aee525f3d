"""One turn at a time per conversation: claims, their release, and a claim whose answer never started."""

from __future__ import annotations

import pytest

from webapp.chat.claims import TurnClaims
from webapp.errors import Conflict

KEY = ("owner-1", "conversation-1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_claimed_conversation_refuses_a_second_turn_until_released() -> None:
    claims = TurnClaims()
    claims.claim(KEY)
    with pytest.raises(Conflict, match="still being written"):
        claims.claim(KEY)
    claims.claim(("owner-1", "conversation-2"))  # another conversation is free
    claims.claim(("owner-2", "conversation-1"))  # another owner's claim never meets this one
    claims.release(KEY)
    claims.claim(KEY)


def test_a_claim_whose_answer_never_started_lapses_and_a_started_one_does_not() -> None:
    clock = Clock()
    claims = TurnClaims(unstarted_seconds=10, clock=clock)
    claims.claim(KEY)
    clock.now += 9
    with pytest.raises(Conflict):
        claims.claim(KEY)
    clock.now += 2  # the client went away between storing its message and reading the answer
    claims.claim(KEY)
    claims.start(KEY)
    clock.now += 3600  # a long answer holds the conversation however long it takes
    with pytest.raises(Conflict):
        claims.claim(KEY)


def test_a_claim_is_given_back_when_what_follows_it_fails() -> None:
    claims = TurnClaims()
    with pytest.raises(LookupError), claims.claimed(KEY):
        raise LookupError("no such conversation")
    assert KEY not in claims
    with claims.claimed(KEY):
        pass
    assert KEY in claims  # kept for the answer that follows
