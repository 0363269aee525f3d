"""CPU time and memory of processes, read from /proc (Linux): no dependency, and exact to the clock tick."""

from __future__ import annotations

import contextlib
import os
import resource
import time
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces): [state, ppid, pgrp, ...]."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def group(pgid: int) -> list[int]:
    """The processes of a process group (a server started in its own session, with its children)."""
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds of these processes (all their threads)."""
    total = 0
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def rss(pids: list[int]) -> int:
    """Resident memory of these processes, in bytes."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):  # the process just ended
            total += int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
    return total


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot; idle and iowait count as not busy."""
    values = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def memory_total() -> int:
    for line in (PROC / "meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def tree(root: int) -> list[int]:
    """`root` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a process tree, with its children that ended and were waited for (a closed browser tab)."""
    total = 0
    for pid in tree(root):
        if (fields := _stat(pid)) is not None:
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICK


class Others:
    """How many cores other work took (on average) while the `with` block ran: all busy time less ours.

    Ours is this process and everything it started: the servers under test, the browser.
    """

    def __init__(self) -> None:
        self.cores = 0.0

    def __enter__(self) -> Others:
        self._start = (time.monotonic(), machine_ticks()[0], tree_cpu_seconds(os.getpid()))
        return self

    def __exit__(self, *_exc: object) -> None:
        elapsed = time.monotonic() - self._start[0]
        busy = (machine_ticks()[0] - self._start[1]) / TICK
        ours = tree_cpu_seconds(os.getpid()) - self._start[2]
        self.cores = max(0.0, busy - ours) / elapsed if elapsed > 0 else 0.0
