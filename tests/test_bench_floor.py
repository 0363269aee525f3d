"""bench.floor, the bare reader under the CPU-per-token figure: it must read every token it is sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.servers import ROOT, fixed_rate_upstream


def test_the_bare_reader_reads_every_stream_to_its_end(tmp_path: Path) -> None:
    with fixed_rate_upstream(tmp_path) as upstream:
        command = [sys.executable, "-m", "bench.floor", "--url", upstream.base_url, "--model", upstream.model]
        command += ["--key", upstream.api_key, "--text", "bench:50@0", "--count", "3"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    measured = json.loads(done.stdout)
    assert measured["tokens"] == 3 * 50  # the upstream's own usage count, summed over the three streams
    assert measured["cpu_seconds"] > 0
