"""One answer at a time in a conversation: a second turn waits its turn with a clear refusal.

Two turns running at once in one conversation (a second tab, the Send button pressed while
an answer streams, a script) would interleave their messages (user, user, assistant,
assistant), which the model's chat template cannot read back, and each would answer a
history without the other. The second is refused before its message is stored, so nothing
it carried is lost: the text stays where the person typed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from webapp.errors import Conflict

#: How long a claim whose answer never started is held. A turn claims when its message is
#: stored and its answer starts a moment later; a client gone in between (a closed tab, a
#: dropped request) never starts it, and its claim must not bar the conversation for good.
UNSTARTED_SECONDS = 10.0

BUSY = "An answer is still being written in this conversation: wait for it to end, or stop it first."

Key = tuple[str, str]  # (owner, conversation id): another owner's id never meets this owner's claim


class TurnClaims:
    """The conversations of this process with a turn under way."""

    def __init__(self, unstarted_seconds: float = UNSTARTED_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.unstarted_seconds = unstarted_seconds
        self._clock = clock
        # The time of the claim while its answer has not started; None once it has (held until released).
        self._claims: dict[Key, float | None] = {}

    def busy(self, key: Key) -> bool:
        """Whether a turn of the conversation is under way: its answer started, or about to."""
        if key not in self._claims:
            return False
        since = self._claims[key]
        return since is None or self._clock() - since < self.unstarted_seconds

    def claim(self, key: Key) -> None:
        """Hold the conversation for a new turn, or raise Conflict if one is under way."""
        if self.busy(key):
            raise Conflict(BUSY, code="busy")
        self._claims[key] = self._clock()

    @contextmanager
    def claimed(self, key: Key) -> Iterator[None]:
        """Claim for a turn, given back if what follows fails before the answer starts."""
        self.claim(key)
        try:
            yield
        except BaseException:
            self.release(key)
            raise

    def start(self, key: Key) -> None:
        """The turn's answer has begun: the claim now lasts until `release`, however long it takes."""
        self._claims[key] = None

    def release(self, key: Key) -> None:
        self._claims.pop(key, None)

    def __contains__(self, key: Key) -> bool:
        return key in self._claims
