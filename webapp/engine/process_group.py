"""Stopping a launched process and everything it started: it runs in a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL


def stop_process_group(process: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace` s; return once it is gone.

    Returning only when the group is empty matters: the port is free again then.
    """
    pgid = process.pid
    _signal_group(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(pgid, signal.SIGKILL)
        process.wait(timeout=grace)
    if not _group_gone(pgid, grace):
        # Workers that outlived their leader (the engine core, say) are killed too.
        _signal_group(pgid, signal.SIGKILL)
        _group_gone(pgid, grace)


def _group_gone(pgid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        time.sleep(0.05)
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
