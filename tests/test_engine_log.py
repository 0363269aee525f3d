"""Reading deepseek_qwen.log: real lines from the suite's own vLLM server, and crafted ones."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import LiveApp, free_port, make_settings
from webapp.db.store import Store
from webapp.engine.logfile import (
    clean,
    diagnose,
    durations,
    engine_config,
    engine_figures,
    last_errors,
    parse,
    phases,
    read_tail,
    view,
)
from webapp.engine.supervisor import Engine
from webapp.ops.status import StatusMonitor, engine_report

OLD_LOG = """\
INFO 05-20 10:00:00 llm_engine.py:100] Initializing an LLM engine (v0.4.2) with config: model='deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B', speculative_config=None, tokenizer='deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, trust_remote_code=False, dtype=torch.bfloat16, max_seq_len=4096, download_dir=None, load_format=LoadFormat.AUTO, tensor_parallel_size=1, disable_custom_all_reduce=False, quantization=awq, enforce_eager=False, kv_cache_dtype=auto, seed=0)
INFO 05-20 10:00:09 model_runner.py:146] Loading model weights took 1.1 GB
INFO 05-20 10:00:11 gpu_executor.py:83] # GPU blocks: 7000, # CPU blocks: 9362
INFO 05-20 10:00:13 model_runner.py:871] Capturing the model for CUDA graphs.
INFO:     Started server process [1234]
INFO:     Waiting for application startup.
INFO:     Application startup complete.
INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)
"""


def test_the_suites_own_log_shows_every_phase_and_the_config(live_app: LiveApp) -> None:
    lines = read_tail(live_app.settings.vllm_log_file)
    names = [p.name for p in phases(lines)]
    for expected in ("launching", "initializing engine", "loading weights", "allocating KV cache", "ready"):
        assert expected in names
    assert names.index("initializing engine") < names.index("loading weights") < names.index("ready")
    assert all(p.time for p in phases(lines))
    seconds = durations(phases(lines))
    assert seconds[-1] is None  # the last phase lasts until now
    assert all(s is None or s >= 0 for s in seconds)
    assert sum(s or 0 for s in seconds) > 0
    config = engine_config(lines)
    assert config["served_model_name"] == "tiny-r1"
    assert config["max_model_len"] == "512"
    assert config["version"].startswith("v0.")
    assert config["model"] == live_app.settings.model
    assert [d for d in diagnose(lines) if d.severity == "error"] == []


def test_the_older_format_of_the_source_article_is_read() -> None:
    lines = OLD_LOG.splitlines()
    assert [p.name for p in phases(lines)] == [
        "initializing engine",
        "loading weights",
        "allocating KV cache",
        "capturing CUDA graphs",
        "ready",
    ]
    config = engine_config(lines)
    assert config == {
        "version": "v0.4.2",
        "model": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
        "dtype": "torch.bfloat16",
        "max_model_len": "4096",
        "quantization": "awq",
        "enforce_eager": "False",
    }
    assert parse(lines[-2]).level == "INFO"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("(APIServer pid=7) ERROR 11-28 14:39:26 [x.py:1] ValueError: Cannot find the config file for awq", "awq_not_awq"),
        ("ValueError: torch.float32 is not supported for quantization method awq. Supported dtypes: [torch.float16]", "dtype_refused"),
        ("ValueError: Free memory on device (3.1/14.7 GiB) on startup is less than desired GPU memory utilization (0.9, 13.2 GiB).", "memory_utilization"),
        ("ValueError: To serve at least one request with the models's max seq len (4096), (1.2 GiB KV cache is needed, which is larger than the available KV cache memory (0.5 GiB). Based on the available memory, the estimated maximum model length is 1712.", "kv_cache_too_small"),
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.", "cuda_oom"),
        ("triton.runtime.errors.OutOfResources: out of resource: shared memory, Required: 81920, Hardware limit: 65536.", "triton_resources"),
        ("(APIServer pid=7) ERROR 11-28 14:40:00 [async_llm.py:1] vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue.", "engine_dead"),
        ("OSError: [Errno 98] Address already in use", "port_in_use"),
        ("(EngineCore pid=3) WARNING 11-28 14:39:26 [cuda.py:1] Your GPU does not have native support for BF16. Falling back to torch.float16.", "bf16_fallback"),
    ],
)  # fmt: skip
def test_known_failures_are_recognised_with_their_fix(line: str, kind: str) -> None:
    [found] = diagnose(["INFO 11-28 14:39:00 [x.py:1] something normal", line])
    assert found.kind == kind
    assert found.hint
    assert found.severity == ("info" if kind == "bf16_fallback" else "error")


def test_colour_codes_and_progress_bars_are_cleaned() -> None:
    assert clean("\x1b[32mINFO\x1b[0m 11-28 14:39:26 [x.py:1] ok\n") == "INFO 11-28 14:39:26 [x.py:1] ok"
    assert clean("Loading:  10%\rLoading:  50%\rLoading: 100%\r") == "Loading: 100%"
    line = parse("(EngineCore pid=9) \x1b[33mWARNING\x1b[0m 11-28 14:39:26 [cpu.py:224] Triton is not installed.")
    assert (line.level, line.source, line.time, line.text) == (
        "WARNING",
        "EngineCore",
        "11-28 14:39:26",
        "Triton is not installed.",
    )


def test_last_errors_give_a_short_account_of_a_crash() -> None:
    lines = [
        "(APIServer pid=1) INFO 11-28 14:39:26 [x.py:1] fine",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "RuntimeError: Engine core initialization failed. See root cause above.",
    ]
    assert last_errors(lines) == ["RuntimeError: Engine core initialization failed. See root cause above."]


def test_a_1_gb_log_costs_what_a_small_one_does(tmp_path: Path) -> None:
    log = tmp_path / "deepseek_qwen.log"
    with log.open("wb") as handle:
        handle.truncate(1 << 30)  # 1 GiB (sparse: nothing written) of old output
        handle.seek(0, 2)
        handle.write(b"\n(APIServer pid=1) INFO 11-28 14:39:26 [x.py:1] the newest line\n")
    started = time.perf_counter()
    lines = read_tail(log, max_bytes=64 * 1024)
    elapsed = time.perf_counter() - started
    assert lines[-1].endswith("the newest line")
    assert len("\n".join(lines)) <= 64 * 1024
    assert elapsed < 5  # generous: reading the whole GiB would take far longer, and allocate it


def test_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert read_tail(tmp_path / "none.log") == []


def test_status_while_loading_and_when_ready(live_app: LiveApp) -> None:
    early = live_app.early_status["engine"]
    assert early["state"] in ("starting", "loading")
    assert early["ready"] is False
    assert early["error"] is None
    assert early["phase"] in (None, "launching", "resolving model", "initializing engine")
    with httpx.Client(base_url=live_app.url, timeout=60) as http:
        conversation = http.post("/api/conversations").json()["id"]
        http.post(f"/api/conversations/{conversation}/messages", json={"content": "count me"})
        report = http.get("/api/status").json()
    engine = report["engine"]
    figures = engine["metrics"]
    assert figures["generation_tokens"] > 0
    assert figures["requests_running"] == 0
    assert 0 <= figures["kv_cache_usage"] <= 1
    assert figures["mean_ttft_s"] > 0
    assert engine["gpus"] == [] or all("name" in gpu for gpu in engine["gpus"])
    assert (engine["state"], engine["ready"], engine["phase"]) == ("ready", True, "ready")
    assert engine["served_model_name"] == "tiny-r1"
    assert engine["max_model_len"] == 512
    assert engine["model"] == live_app.settings.model
    assert engine["quantization"] in (None, "awq")
    assert [p["name"] for p in engine["phases"]][-1] == "ready"
    assert report["db"] == {"ok": True, "backend": "sqlite", "error": None}


async def test_status_of_a_refused_launch_names_the_reason(models_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(
        model=str(models_dir / "random"),
        quantization="awq",
        engine_port=free_port(),
        port=free_port(),
        vllm_log_file=tmp_path / "engine.log",
    )
    engine = Engine(settings)
    await engine.start()
    report = engine_report(engine, [])
    assert report.state == "error" and report.error is not None
    assert report.error.kind == "launch_refused"
    assert "QUANTIZATION=awq" in report.error.message
    assert report.error.hint


def test_the_viewer_filters_by_level_and_search() -> None:
    lines = [
        "(APIServer pid=1) INFO 11-28 14:39:26 [a.py:1] Loading weights took 1.0 seconds",
        "(APIServer pid=1) WARNING 11-28 14:39:27 [b.py:1] \x1b[33mTriton is not installed\x1b[0m",
        "Traceback (most recent call last):",
        "(APIServer pid=1) ERROR 11-28 14:39:28 [c.py:1] EngineDeadError: boom",
    ]
    assert len(view(lines)) == 4
    assert view(lines, level="WARNING") == [
        "(APIServer pid=1) WARNING 11-28 14:39:27 [b.py:1] Triton is not installed",
        "(APIServer pid=1) ERROR 11-28 14:39:28 [c.py:1] EngineDeadError: boom",
    ]
    assert view(lines, search="WEIGHTS") == [lines[0]]
    assert view(lines, limit=1) == [lines[-1]]


def test_engine_figures_from_prometheus_text_old_and_new_names() -> None:
    text = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.25
# TYPE vllm:generation_tokens counter
vllm:generation_tokens_total{engine="0",model_name="m"} 1200.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.6
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 3.0
"""
    figures = engine_figures(text)
    assert figures["requests_running"] == 3
    assert figures["requests_waiting"] == 1
    assert figures["kv_cache_usage"] == 0.25
    assert figures["generation_tokens"] == 1200
    assert abs(figures["mean_ttft_s"] - 0.2) < 1e-9


def test_durations_of_no_phases_and_of_untimed_ones() -> None:
    assert durations([]) == []
    assert durations(phases(["INFO:     Application startup complete."])) == [None]


async def test_the_status_is_made_once_per_second_for_all_pages(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("(APIServer pid=1) INFO 11-28 14:39:26 [x.py:1] Starting vLLM server on http://127.0.0.1:1\n")
    engine = Engine(make_settings(vllm_base_url=f"http://127.0.0.1:{free_port()}/v1", vllm_log_file=log))
    store = Store.open(f"sqlite:///{tmp_path / 'chat.db'}")
    monitor = StatusMonitor(engine, store, ttl=0.5)
    first = await monitor.report()
    assert await monitor.report() is first  # shared within the TTL
    assert first.engine.phase == "starting server"
    with log.open("a") as handle:
        handle.write("INFO:     Application startup complete.\n")
    await asyncio.sleep(0.6)  # the point: the 0.5 s TTL passes, and the next report is made anew
    assert (await monitor.report()).engine.phase == "ready"
    assert (await monitor.log_lines())[-1] == "INFO:     Application startup complete."
    store.close()
