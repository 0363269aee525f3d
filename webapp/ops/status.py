"""The status report: the engine's state, phase, config and weights' download, and the database."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import httpx
from sqlalchemy import text

from webapp.db.store import Store
from webapp.engine import logfile as engine_log
from webapp.engine.command import health_url
from webapp.engine.supervisor import Engine, EngineState
from webapp.llm.endpoints import EndpointPool
from webapp.ops.report import (
    GPU,
    DatabaseReport,
    Diagnosis,
    Download,
    Endpoint,
    EngineReport,
    Phase,
    Problem,
    StatusReport,
)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def engine_report(engine: Engine, lines: list[str]) -> EngineReport:
    """What the engine is doing, from its state and the tail of its log (read in both engine modes)."""
    status = engine.status()
    downloading = status.state is EngineState.DOWNLOADING
    # While the weights download, the log's last start is an earlier run's: none of it is about this one.
    current = [] if downloading else lines[engine_log.last_start(lines) :]
    steps = engine_log.phases(current)
    config = engine_log.engine_config(current)
    quantization = config.get("quantization")
    phase = "downloading weights" if downloading else steps[-1].name if steps else None
    state = status.state.value
    if state == "starting" and phase in engine_log.LOADING_PHASES:
        state = "loading"  # the process is up and reading the model
    return EngineReport(
        state=state,
        ready=status.ready,
        phase=phase,
        phases=[
            Phase(name=p.name, time=p.time, seconds=seconds)
            for p, seconds in zip(steps, engine_log.durations(steps), strict=True)
        ],
        # A launched engine may serve a hub model's local copy: the name a person set is MODEL.
        model=(config.get("model") if engine.external else None) or engine.settings.model,
        served_model_name=config.get("served_model_name"),
        dtype=config.get("dtype"),
        quantization=None if quantization in (None, "None") else quantization,
        max_model_len=_int_or_none(config.get("max_model_len")),
        version=config.get("version"),
        base_url=status.base_url,
        restarts=engine.restarts,
        last_exit=engine.last_exit,
        log_file=str(engine.settings.vllm_log_file),
        download=Download(**engine.download.report()) if engine.download is not None else None,
        error=(
            Problem(kind=status.error.kind, message=status.error.message, hint=status.error.hint)
            if status.error is not None
            else None
        ),
        diagnoses=[
            Diagnosis(kind=d.kind, message=d.message, hint=d.hint, severity=d.severity)
            for d in engine_log.diagnose(current)
        ],
    )


def database_report(store: Store) -> DatabaseReport:
    try:
        with store.database.connection() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach it is the report
        return DatabaseReport(ok=False, backend=store.database.backend, error=str(exc))
    return DatabaseReport(ok=True, backend=store.database.backend)


async def live_figures(engine: Engine) -> dict[str, float]:
    """The engine's own `/metrics`, summarised; empty while it does not answer."""
    url = health_url(engine.base_url).removesuffix("/health") + "/metrics"
    # Plain httpx: /metrics is vLLM's Prometheus page, not an OpenAI route the openai client has a call for.
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            response = await http.get(url)
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:
        return {}
    try:
        return engine_log.engine_figures(response.text)
    except ValueError:  # not Prometheus text: not a vLLM server
        return {}


def gpu_report() -> list[GPU]:
    """Name and memory of each NVIDIA GPU, when nvidia-smi exists (empty otherwise)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.used,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, used, total = (part.strip() for part in line.split(",", 2))
        gpus.append(GPU(name=name, memory_used=used, memory_total=total))
    return gpus


async def status_report(
    engine: Engine, store: Store, lines: list[str] | None = None, pool: EndpointPool | None = None
) -> StatusReport:
    if lines is None:
        lines = await asyncio.to_thread(engine_log.read_tail, engine.settings.vllm_log_file)
    report = engine_report(engine, lines).model_copy(
        update={
            "metrics": await live_figures(engine),
            "gpus": await asyncio.to_thread(gpu_report),
            "endpoints": [Endpoint(**e) for e in pool.report()] if pool is not None else None,
        }
    )
    return StatusReport(engine=report, db=await asyncio.to_thread(database_report, store))


class StatusMonitor:
    """The status report and the log tail, made at most once per `ttl` seconds for everyone.

    Every open page polls the status; without sharing, a hundred pages would read and
    parse the log a hundred times a second.
    """

    def __init__(self, engine: Engine, store: Store, ttl: float = 1.0, pool: EndpointPool | None = None) -> None:
        self.engine = engine
        self.store = store
        self.pool = pool
        self.ttl = ttl
        self._lock = asyncio.Lock()
        self._made = -1.0e9
        self._report: StatusReport | None = None
        self._lines: list[str] = []

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._made < self.ttl:
                return
            self._lines = await asyncio.to_thread(engine_log.read_tail, self.engine.settings.vllm_log_file)
            self._report = await status_report(self.engine, self.store, self._lines, self.pool)
            self._made = time.monotonic()

    async def report(self) -> StatusReport:
        await self._refresh()
        assert self._report is not None
        return self._report

    async def log_lines(self) -> list[str]:
        await self._refresh()
        return self._lines
