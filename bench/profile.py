"""Where the app's CPU goes while it streams: py-spy samples of the GIL holder, sorted into the parts of a chat.

Optional: without py-spy (`pip install py-spy`) the run goes on without this breakdown.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# The first part whose marker appears in a sample's stack takes the sample.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("per turn: opening the upstream request (OpenAI SDK)", ("AsyncAPIClient.post",)),
    ("per turn: counting the prompt's tokens (/tokenize)", ("ChatService._fit",)),
    ("per turn: database reads and writes", ("webapp/db/store.py",)),
    ("per turn: reading and checking the request", ("solve_dependencies", "Request.body", "request_cookies")),
    ("reading the upstream stream (aiohttp, SSE, JSON)", ("ModelClient.astream",)),
    (
        "writing events to the client (JSON, Starlette, uvicorn)",
        ("_sse (", "StreamingResponse", "RequestResponseCycle"),
    ),
    ("Gradio's queue (polls while idle)", ("gradio/queueing.py",)),
)
OTHER = "event loop and the rest"


def pyspy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy recording `pid` (only while it holds the GIL) until `stop`; None without py-spy."""
    program = pyspy()
    if program is None:
        return None
    command = [program, "record", "--pid", str(pid), "--gil", "--nonblocking", "--rate", "250"]
    command += ["--format", "raw", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(recorder: subprocess.Popen[bytes]) -> None:
    recorder.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    try:
        recorder.wait(timeout=30)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait()


def breakdown(raw: Path) -> dict[str, float]:
    """Share of the samples in each part, largest first (empty if nothing was recorded)."""
    counts: Counter[str] = Counter()
    if not raw.exists():
        return {}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        part = next((name for name, markers in PARTS if any(m in stack for m in markers)), OTHER)
        counts[part] += int(number)
    total = sum(counts.values())
    return {part: count / total for part, count in counts.most_common()} if total else {}
