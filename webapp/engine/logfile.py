"""Reading `deepseek_qwen.log`: its tail, its startup phases, its config line, its known failures.

Pure functions over lines, plus `read_tail`, which reads only the end of the file so
that a 1 GB log costs what a 1 KB one does. Covers current vLLM (V1 engine) and the
0.4-era format the source article shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_BYTES = 256 * 1024

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# (APIServer pid=1) INFO 11-28 14:39:26 [file.py:12] text    current vLLM
# INFO 11-28 14:39:26 llm_engine.py:205] text                 0.4-era vLLM
# INFO:     Application startup complete.                     uvicorn
_LINE = re.compile(
    r"^(?:\((?P<source>[\w-]+) pid=\d+\)\s+)?"
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)(?::)?\s+"
    r"(?:(?P<time>\d\d-\d\d \d\d:\d\d:\d\d)\s+\[?[\w./-]+:\d+\]\s*)?"
    r"(?P<text>.*)$"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    level: str  # DEBUG, INFO, WARNING, ERROR, CRITICAL, or "" for raw output (tracebacks, progress)
    text: str
    time: str | None = None  # "MM-DD hh:mm:ss" as vLLM writes it
    source: str | None = None  # APIServer, EngineCore, Worker, ...


def clean(raw: str) -> str:
    """One log line as a person should read it: no colour codes, only a progress bar's last state."""
    text = _ANSI.sub("", raw.rstrip("\n"))
    if "\r" in text:
        text = text.rstrip("\r").rsplit("\r", 1)[-1]
    return text


def parse(raw: str) -> LogLine:
    text = clean(raw)
    match = _LINE.match(text)
    if match is None:
        return LogLine(level="", text=text)
    return LogLine(level=match["level"], text=match["text"].strip(), time=match["time"], source=match["source"])


def read_tail(path: Path, max_bytes: int = TAIL_BYTES) -> list[str]:
    """The last lines of a file, reading at most `max_bytes` from its end (empty if it is missing)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            start = max(0, size - max_bytes)
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[1:] if start > 0 and lines else lines  # the first line was cut in the middle


# -- startup phases ---------------------------------------------------------------

# (phase name, pattern), in the order vLLM goes through them.
PHASES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("launching", re.compile(r"^\[webapp [^]]+\] launching:")),
    ("resolving model", re.compile(r"non-default args:|Resolved architecture:")),
    ("initializing engine", re.compile(r"Initializing an? (?:V1 )?LLM engine")),
    ("loading weights", re.compile(r"Starting to load model|Loading weights took|Loading model weights took")),
    ("compiling", re.compile(r"torch\.compile takes|Compiling a graph")),
    ("allocating KV cache", re.compile(r"(?:GPU|CPU) KV cache size|# (?:GPU|CPU) blocks:")),
    ("capturing CUDA graphs", re.compile(r"Capturing (?:the model for )?(?:CUDA )?graphs")),
    ("warming up", re.compile(r"init engine \(profile, create kv cache, warmup model\) took")),
    ("starting server", re.compile(r"Starting vLLM (?:API )?server|Available routes are")),
    ("ready", re.compile(r"Application startup complete")),
)


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    time: str | None  # when it began, as the log says it
    line: int  # index of the line that began it


# Phases in which the engine is loading the model (rather than starting its process).
LOADING_PHASES = frozenset(
    {"loading weights", "compiling", "allocating KV cache", "capturing CUDA graphs", "warming up", "starting server"}
)


def _seconds(stamp: str | None) -> int | None:
    # vLLM writes "MM-DD hh:mm:ss": enough for durations within a start (year changes aside).
    match = re.fullmatch(r"(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)", stamp or "")
    if match is None:
        return None
    month, day, hour, minute, second = (int(part) for part in match.groups())
    return (((month * 31 + day) * 24 + hour) * 60 + minute) * 60 + second


def durations(steps: Sequence[Phase]) -> list[float | None]:
    """Seconds each phase took (until the next began); None where the log gives no times, or for the last."""
    out: list[float | None] = []
    for index, current in enumerate(steps):
        start = _seconds(current.time)
        end = _seconds(steps[index + 1].time) if index + 1 < len(steps) else None
        out.append(float(end - start) if start is not None and end is not None else None)
    return out


_LAUNCH_TIME = re.compile(r"^\[webapp \d{4}-(?P<time>\d\d-\d\d \d\d:\d\d:\d\d)\] launching:")


def last_start(lines: Sequence[str]) -> int:
    """Index of the line where the app last launched the engine (0 if none is in the lines)."""
    starts = [i for i, raw in enumerate(lines) if PHASES[0][1].search(clean(raw))]
    return starts[-1] if starts else 0


def phases(lines: Sequence[str]) -> list[Phase]:
    """The startup phases of the most recent start in the log, in order."""
    first = last_start(lines)
    seen: dict[str, Phase] = {}
    last_time: str | None = None
    for index in range(first, len(lines)):
        line = parse(lines[index])
        if launch := _LAUNCH_TIME.match(line.text):
            line = LogLine(line.level, line.text, launch["time"], "webapp")
        last_time = line.time or last_time
        for name, pattern in PHASES:
            if name not in seen and pattern.search(line.text):
                seen[name] = Phase(name, line.time or last_time, index)
    order = [name for name, _ in PHASES]
    return sorted(seen.values(), key=lambda p: (order.index(p.name), p.line))


# -- the engine-config line -------------------------------------------------------

_CONFIG = re.compile(r"Initializing an? (?:V1 )?LLM engine \((?P<version>v[^)]+)\) with config: (?P<config>.*)")
_CONFIG_FIELDS = {
    "model": "model",
    "dtype": "dtype",
    "max_seq_len": "max_model_len",
    "quantization": "quantization",
    "served_model_name": "served_model_name",
    "enforce_eager": "enforce_eager",
}


def engine_config(lines: Iterable[str]) -> dict[str, str]:
    """Model, dtype, quantization, max model length and served name from the last config line."""
    found: dict[str, str] = {}
    for raw in lines:
        match = _CONFIG.search(clean(raw))
        if match is None:
            continue
        found = {"version": match["version"]}
        for key, value in re.findall(r"(\w+)=('[^']*'|\[[^]]*\]|[^,]*)", match["config"]):
            if key in _CONFIG_FIELDS and _CONFIG_FIELDS[key] not in found:
                found[_CONFIG_FIELDS[key]] = value.strip("'[]\"")
    return found


# -- known failures ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Diagnosis:
    kind: str
    message: str
    hint: str
    severity: str = "error"  # or "info"
    line: int = -1


_KNOWN: tuple[tuple[str, re.Pattern[str], str, str, str], ...] = (
    (
        "awq_not_awq",
        re.compile(r"Cannot find the config file for awq"),
        "AWQ was asked for, but the checkpoint is not AWQ.",
        "Use an AWQ checkpoint (e.g. casperhansen/deepseek-r1-distill-qwen-1.5b-awq) or leave QUANTIZATION empty.",
        "error",
    ),
    (
        "dtype_refused",
        re.compile(r"torch\.\w+ is not supported for quantization method (\w+)"),
        "The quantization refuses this dtype.",
        "Set DTYPE=float16 (or auto) for AWQ checkpoints.",
        "error",
    ),
    (
        "memory_utilization",
        re.compile(
            r"(?:Free|Available) memory on (?:device|node).* is less than desired (?:GPU|CPU) memory utilization"
        ),
        "Less memory is free than GPU_MEMORY_UTILIZATION asks for.",
        "Lower GPU_MEMORY_UTILIZATION, or stop what else uses the memory. On a CPU set VLLM_CPU_KVCACHE_SPACE.",
        "error",
    ),
    (
        "kv_cache_too_small",
        re.compile(r"KV cache is needed, which is larger than the available KV cache memory"),
        "The memory left for the KV cache cannot hold one request of MAX_MODEL_LEN tokens.",
        "Lower MAX_MODEL_LEN (the log estimates what fits), or raise GPU_MEMORY_UTILIZATION.",
        "error",
    ),
    (
        "cuda_oom",
        re.compile(r"(?:torch\.OutOfMemoryError|CUDA out of memory)"),
        "The GPU ran out of memory.",
        "Lower GPU_MEMORY_UTILIZATION or MAX_MODEL_LEN, set ENFORCE_EAGER=true, or free the GPU.",
        "error",
    ),
    (
        "triton_resources",
        re.compile(r"triton\.runtime\.errors\.OutOfResources"),
        "A GPU kernel needs more shared memory than this card has (seen on T4).",
        "Set DTYPE=float16 and ENFORCE_EAGER=true.",
        "error",
    ),
    (
        "engine_dead",
        re.compile(r"EngineDeadError|Engine core initialization failed|EngineCore encountered an issue"),
        "The engine process died.",
        "The lines above it in the log say why; the app restarts it.",
        "error",
    ),
    (
        "port_in_use",
        re.compile(r"Address already in use"),
        "The engine's port is taken.",
        "Stop what uses it, or set ENGINE_PORT to a free port (or VLLM_BASE_URL to use that server).",
        "error",
    ),
    (
        "bf16_fallback",
        re.compile(r"Falling back to torch\.float16|compute capability .* does not support bfloat16"),
        "This GPU has no bfloat16 (a T4, say): vLLM runs in float16.",
        "Nothing to do; DTYPE=float16 says so explicitly.",
        "info",
    ),
)


def diagnose(lines: Sequence[str]) -> list[Diagnosis]:
    """Each known failure found in the lines, once, latest occurrence, in the order they happened."""
    found: dict[str, Diagnosis] = {}
    for index, raw in enumerate(lines):
        text = clean(raw)
        for kind, pattern, message, hint, severity in _KNOWN:
            if pattern.search(text):
                found[kind] = Diagnosis(kind, message, hint, severity, index)
    return sorted(found.values(), key=lambda d: d.line)


def last_errors(lines: Sequence[str], count: int = 5) -> list[str]:
    """The last error lines (and a traceback's final line), for a short account of a crash."""
    picked = [
        clean(raw)
        for raw in lines
        if parse(raw).level in ("ERROR", "CRITICAL") or re.match(r"^\w+(?:\.\w+)*(?:Error|Exception): ", clean(raw))
    ]
    return picked[-count:]


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def view(lines: Sequence[str], *, level: str = "", search: str = "", limit: int = 500) -> list[str]:
    """The last `limit` cleaned lines at `level` or above (all when empty) that contain `search`."""
    floor = _LEVELS.index(level) if level in _LEVELS else -1
    needle = search.strip().lower()
    out: list[str] = []
    for raw in lines:
        line = parse(raw)
        if floor >= 0 and (line.level not in _LEVELS or _LEVELS.index(line.level) < floor):
            continue
        text = clean(raw)
        if needle and needle not in text.lower():
            continue
        out.append(text)
    return out[-limit:]


def engine_figures(metrics_text: str) -> dict[str, float]:
    """Live figures from vLLM's `/metrics`: requests running and waiting, KV-cache use, tokens, TTFT.

    Summed over label sets (one model, possibly several engines). Older vLLM names the
    KV-cache gauge `gpu_cache_usage_perc`.
    """
    from prometheus_client.parser import text_string_to_metric_families

    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    figures = {
        "requests_running": sums.get("vllm:num_requests_running"),
        "requests_waiting": sums.get("vllm:num_requests_waiting"),
        "kv_cache_usage": sums.get("vllm:kv_cache_usage_perc", sums.get("vllm:gpu_cache_usage_perc")),
        "prompt_tokens": sums.get("vllm:prompt_tokens_total"),
        "generation_tokens": sums.get("vllm:generation_tokens_total"),
        "requests_finished": sums.get("vllm:request_success_total"),
    }
    count = sums.get("vllm:time_to_first_token_seconds_count")
    if count:
        figures["mean_ttft_s"] = sums.get("vllm:time_to_first_token_seconds_sum", 0.0) / count
    return {name: value for name, value in figures.items() if value is not None}
