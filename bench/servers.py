"""The processes under test, each apart from the load generator so that its CPU time and memory are its own.

Upstreams (the fixed-rate stream, a real vLLM on the tiny scripted model), the app
(`app.py`, as a person runs it) and the baseline (`bench.baseline`).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import procfs
from bench import upstream as fixed_rate
from webapp.engine import tiny_model
from webapp.engine.command import engine_command, engine_environment
from webapp.engine.process_group import stop_process_group
from webapp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
VLLM_MODEL_NAME = "tiny-r1"
VLLM_MAX_MODEL_LEN = 512
SECRET_KEY = "bench-secret-key"  # the app signs owner cookies with it; bench.history signs one too


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_environment(**extra: str) -> dict[str, str]:
    """This environment without the app's own settings (a stray DATABASE_URL must not leak in), plus `extra`."""
    env = dict(os.environ)
    for field in Settings.model_fields.values():
        if isinstance(field.validation_alias, str):
            env.pop(field.validation_alias, None)
    env.update(
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),  # servers run from their log directory (no stray `.env`), yet import bench
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """A process serving HTTP, with its CPU time and memory (its children's included)."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        """CPU seconds of the server's whole process group so far."""
        return procfs.cpu_seconds(procfs.group(self.process.pid))

    def rss(self) -> int:
        return procfs.rss(procfs.group(self.process.pid))


@dataclass
class Upstream:
    """An OpenAI-compatible server both the app and the baseline talk to."""

    key: str  # "fixed" or "vllm"
    label: str
    base_url: str  # ends in /v1
    api_key: str
    model: str
    server: Server


class PeakMemory:
    """The highest RSS of a server while the `with` block runs, sampled every 50 ms."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = server.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.server.rss())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.server.rss())


@contextmanager
def running(
    name: str, command: list[str], *, url: str, probe: str, logs: Path, env: dict[str, str], timeout: float = 120
) -> Iterator[Server]:
    """Start `command` in its own process group; yield once GET `probe` answers 200; stop the whole group."""
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=logs,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as http:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{_tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer {probe} within {timeout:.0f} s:\n{_tail(log)}")
                try:
                    if http.get(probe).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        yield Server(name, url, process, log)
    finally:
        stop_process_group(process)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@contextmanager
def fixed_rate_upstream(logs: Path) -> Iterator[Upstream]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.upstream", "--port", str(port)]
    with running("upstream-fixed", command, url=url, probe=f"{url}/health", logs=logs, env=clean_environment()) as s:
        yield Upstream("fixed", "fixed-rate stream", f"{url}/v1", "EMPTY", fixed_rate.MODEL, s)


@contextmanager
def vllm_upstream(logs: Path, work: Path) -> Iterator[Upstream]:
    """vLLM's OpenAI server on the tiny scripted model, launched with the app's own command line."""
    model = tiny_model.build(work / "scripted-model", "scripted")
    settings = Settings(
        _env_file=None,
        model=str(model),
        served_model_name=VLLM_MODEL_NAME,
        max_model_len=VLLM_MAX_MODEL_LEN,
        enforce_eager=True,
        engine_port=free_port(),
    )
    api_key = secrets.token_urlsafe(24)
    env = engine_environment(api_key, clean_environment(VLLM_CACHE_ROOT=str(work / "vllm-cache")), gpu=False)
    url = f"http://127.0.0.1:{settings.engine_port}"
    command = engine_command(settings)
    with running("vllm", command, url=url, probe=f"{url}/health", logs=logs, env=env, timeout=400) as s:
        yield Upstream("vllm", "vLLM, tiny model", f"{url}/v1", api_key, VLLM_MODEL_NAME, s)


@contextmanager
def app_server(
    upstream: Upstream, logs: Path, data: Path, *, name: str = "", probe: str = "/readyz", script: Path = APP
) -> Iterator[Server]:
    """`app.py` in front of `upstream`, as a person starts it; rate limits off, the rest default.

    `script` may be the app.py of another checkout (a change to compare): it imports its own webapp.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(script), "--port", str(port), "--vllm-base-url", upstream.base_url]
    env = clean_environment(
        VLLM_API_KEY=upstream.api_key,
        SERVED_MODEL_NAME=upstream.model,
        DATA_DIR=str(data),
        SECRET_KEY=SECRET_KEY,
        CHAT_RATE_PER_USER="0",
        CHAT_RATE_PER_IP="0",
        CONVERSATION_RATE="0",
        CONVERSATION_RATE_PER_IP="0",
        VLLM_LOG_FILE=str(logs / "no-engine-log.log"),
    )
    with running(name or f"app-{upstream.key}", command, url=url, probe=url + probe, logs=logs, env=env) as server:
        yield server


@contextmanager
def baseline_server(upstream: Upstream, logs: Path) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.baseline", "--port", str(port)]
    command += ["--upstream", upstream.base_url, "--model", upstream.model]
    env = clean_environment(BENCH_UPSTREAM_KEY=upstream.api_key)
    with running(
        f"baseline-{upstream.key}", command, url=url, probe=f"{url}/gradio_api/info", logs=logs, env=env
    ) as server:
        yield server


@dataclass
class Stand:
    """One upstream with the app and the baseline in front of it."""

    upstream: Upstream
    app: Server
    baseline: Server

    def url(self, way: str) -> str:
        return {"direct": self.upstream.base_url, "app": self.app.url, "baseline": self.baseline.url}[way]

    def server(self, way: str) -> Server:
        return {"direct": self.upstream.server, "app": self.app, "baseline": self.baseline}[way]


@contextmanager
def stand(upstream: Upstream, logs: Path, data: Path, app_script: Path = APP) -> Iterator[Stand]:
    with app_server(upstream, logs, data, script=app_script) as app, baseline_server(upstream, logs) as baseline:
        yield Stand(upstream, app, baseline)
