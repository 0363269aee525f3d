"""Time to first token: through the app and through the baseline, against a direct call to the same upstream.

Chats are sent one at a time, the three ways taking turns, so that each sees the
same machine; every app chat is a new conversation (created beforehand, untimed).
What a way adds is taken chat by chat: its time less the direct chat's just before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import procfs
from bench.clients import WAYS, User, Way
from bench.servers import Stand
from bench.stats import percentile

WARM_UP = 3


@dataclass
class Latency:
    upstream: str
    ttft: dict[str, list[float]] = field(default_factory=dict)  # way -> seconds, one per chat
    others_cores: float = 0.0  # cores other work on the machine took meanwhile

    def quantile(self, way: Way, q: float) -> float:
        return percentile(self.ttft[way], q)

    def added(self, way: Way, q: float) -> float:
        """Seconds `way` adds over a direct call: the q-th percentile of the differences of neighbouring chats.

        Pairs, rather than a difference of percentiles, so that a slow moment of the upstream
        (or of the machine) weighs on both sides of a pair instead of on one side of the figure.
        """
        return percentile([a - d for a, d in zip(self.ttft[way], self.ttft["direct"], strict=True)], q)


async def measure(stand: Stand, text: str, samples: int) -> Latency:
    users = {way: User(way, stand.upstream, stand.url(way)) for way in WAYS}
    result = Latency(stand.upstream.key, {way: [] for way in WAYS})
    try:
        with procfs.Others() as others:
            for index in range(WARM_UP + samples):
                for way, user in users.items():
                    await user.prepare()
                    timing = await user.chat(text)
                    if index >= WARM_UP:
                        result.ttft[way].append(timing.ttft)
        result.others_cores = others.cores
    finally:
        for user in users.values():
            await user.aclose()
    return result
