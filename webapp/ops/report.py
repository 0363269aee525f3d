"""The status report's shape: what `/api/status` answers, the status tab shows and the banner reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)


class Phase(Part):
    """A step of the engine's start, from its log: when it began and how long it took (None: under way)."""

    name: str
    time: str | None
    seconds: float | None


class Problem(Part):
    kind: str
    message: str
    hint: str | None


class Diagnosis(Problem):
    """A known failure or warning read in the engine's log, with what to do."""

    severity: str


class Download(Part):
    """How far the weights' first download has got."""

    repo: str
    source: str
    files_done: int
    files_total: int | None
    bytes_done: int
    bytes_total: int | None
    percent: float | None
    speed: float | None  # bytes per second
    eta: float | None  # seconds left
    current_file: str | None
    finished: bool
    error: str | None


class Endpoint(Part):
    """One of several engines (VLLM_BASE_URL with commas)."""

    url: str
    healthy: bool
    queue: float
    inflight: int


class GPU(Part):
    name: str
    memory_used: str
    memory_total: str


class EngineReport(Part):
    state: str
    ready: bool
    phase: str | None
    phases: list[Phase]
    model: str
    served_model_name: str | None
    dtype: str | None
    quantization: str | None
    max_model_len: int | None
    version: str | None
    base_url: str
    restarts: int
    last_exit: str | None
    log_file: str
    download: Download | None
    error: Problem | None
    diagnoses: list[Diagnosis]
    metrics: dict[str, float] = {}  # the engine's own /metrics, summarised: empty while it does not answer
    gpus: list[GPU] = []
    endpoints: list[Endpoint] | None = None  # only with several engines


class DatabaseReport(Part):
    ok: bool
    backend: str  # sqlite or postgresql
    error: str | None = None


class StatusReport(Part):
    engine: EngineReport
    db: DatabaseReport
