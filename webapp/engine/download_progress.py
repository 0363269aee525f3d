"""How far a download of a hub model's weights has got, measured on the files it writes.

Measured on disk, so it is right whichever library writes them (huggingface_hub or modelscope),
and it costs nothing between two reports.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webapp.engine.hub import Plan, use_modelscope

_SPEED_WINDOW = 10.0  # seconds of samples the speed is averaged over


class Progress:
    """How far a download has got, measured on disk each time it is asked."""

    def __init__(self, repo: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.repo = repo
        self.plan: Plan | None = None  # None until the hub has listed the files
        self.error: str | None = None
        self.finished = False
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    @property
    def active(self) -> bool:
        return not self.finished and self.error is None

    def report(self) -> dict[str, Any]:
        """Files and bytes done and in all, percent, speed (bytes/s), ETA (s), the file being fetched."""
        plan = self.plan
        files_done, bytes_done, current = self._measure() if plan else (0, 0, None)
        total = plan.total if plan else None
        speed = self._speed(bytes_done) if self.active and plan else None
        left = (total or 0) - bytes_done
        return {
            "repo": self.repo,
            "source": plan.source if plan else ("modelscope" if use_modelscope() else "huggingface"),
            "files_done": files_done,
            "files_total": len(plan.files) if plan else None,
            "bytes_done": bytes_done,
            "bytes_total": total,
            "percent": 100.0 if self.finished else (100.0 * bytes_done / total if total else None),
            "speed": speed,
            "eta": left / speed if speed else None,
            "current_file": current if self.active else None,
            "finished": self.finished,
            "error": self.error,
        }

    def _measure(self) -> tuple[int, int, str | None]:
        assert self.plan is not None
        files_done = bytes_done = 0
        current: tuple[int, str] | None = None
        for file in self.plan.files:
            final, partials = self.plan.on_disk(file)
            if final.is_file():
                files_done += 1
                bytes_done += file.size
                continue
            sizes = [_size(path) for path in partials]
            if any(size is not None for size in sizes):
                got = min(file.size, max(size or 0 for size in sizes))
                bytes_done += got
                if current is None or file.size - got > current[0]:
                    current = (file.size - got, file.path)  # the one with the most left to fetch
        return files_done, bytes_done, current[1] if current else None

    def _speed(self, bytes_done: int) -> float | None:
        now = self._clock()
        self._samples.append((now, bytes_done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= _SPEED_WINDOW:
            self._samples.popleft()
        first_time, first_bytes = self._samples[0]
        if now - first_time < 1.0:
            return None
        return max(0.0, (bytes_done - first_bytes) / (now - first_time))


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
