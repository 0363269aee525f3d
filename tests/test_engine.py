"""The launcher and readiness, with the real vLLM server the session started."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeEngine, FakeHub, FakeRepo, serve_fake, serve_hub
from tests.helpers import LiveApp, awq_decodes_here, free_port, make_settings, until
from webapp.engine.hub import local_copy
from webapp.engine.process_group import stop_process_group
from webapp.engine.supervisor import Engine, EngineState
from webapp.errors import EngineNotReady, LaunchRefused
from webapp.ops.status import engine_report
from webapp.settings import Settings
from webapp.ui.status_view import banner_markdown, status_markdown


def test_pages_are_served_while_the_engine_loads(live_app: LiveApp) -> None:
    assert live_app.early_healthz == 200
    assert live_app.early_readyz == 503


def test_the_engine_is_ready_and_logs_where_asked(live_app: LiveApp) -> None:
    status = live_app.engine.status()
    assert status.state is EngineState.READY
    log = live_app.settings.vllm_log_file.read_text()
    assert "[webapp" in log
    assert "launching:" in log
    assert "Application startup complete" in log
    assert "served_model_name=tiny-r1" in log


def test_the_engine_listens_on_loopback_with_a_key(live_app: LiveApp) -> None:
    base = live_app.engine.base_url
    assert base.startswith("http://127.0.0.1:")
    assert httpx.get(f"{base}/models").status_code == 401
    headers = {"Authorization": f"Bearer {live_app.engine.api_key}"}
    assert httpx.get(f"{base}/models", headers=headers).status_code == 200


def test_the_api_key_is_not_on_the_command_line(live_app: LiveApp) -> None:
    pid = live_app.engine.pid
    assert pid is not None
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert "--reasoning-parser\0deepseek_r1" in cmdline
    assert live_app.engine.api_key not in cmdline


@pytest.mark.skipif(not awq_decodes_here(), reason="vLLM's AVX2 CPU build has no AWQ kernel (cpu_gemm_wna16)")
def test_the_awq_checkpoint_is_served(live_app: LiveApp) -> None:
    log = live_app.settings.vllm_log_file.read_text()
    assert "quantization=awq" in log  # detected from the checkpoint: no --quantization was passed
    assert "--quantization" not in log.split("launching:")[-1].splitlines()[0]


@pytest.mark.skipif(awq_decodes_here(), reason="this machine has an AWQ kernel")
async def test_awq_is_refused_where_vllm_cannot_decode_it(models_dir: Path, tmp_path: Path) -> None:
    engine = Engine(launch_settings(models_dir / "awq", tmp_path))
    await engine.start()
    status = engine.status()
    assert status.state is EngineState.ERROR
    assert isinstance(status.error, LaunchRefused)
    assert "no AWQ kernel" in status.error.message
    assert engine.pid is None


def launch_settings(model: Path, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "model": str(model),
        "engine_port": free_port(),
        "port": free_port(),
        "vllm_log_file": tmp_path / "engine.log",
        "enforce_eager": True,
    }
    return make_settings(**{**values, **overrides})


@pytest.mark.parametrize(
    ("variant", "overrides", "message"),
    [
        ("random", {"quantization": "awq"}, "QUANTIZATION=awq was asked for"),
        ("missing", {}, "does not exist"),
    ],
)
async def test_launch_refusals_leave_the_app_up_with_the_reason(
    models_dir: Path, tmp_path: Path, variant: str, overrides: dict[str, object], message: str
) -> None:
    engine = Engine(launch_settings(models_dir / variant, tmp_path, **overrides))
    await engine.start()
    assert engine.status().state is EngineState.ERROR
    assert engine.pid is None
    with pytest.raises(EngineNotReady, match=message):
        engine.require_ready()


async def test_a_port_taken_by_the_running_engine_is_refused(live_app: LiveApp, tmp_path: Path) -> None:
    port = int(live_app.engine.base_url.rsplit(":", 1)[1].split("/")[0])
    engine = Engine(launch_settings(Path(live_app.settings.model), tmp_path, engine_port=port))
    await engine.start()
    status = engine.status()
    assert isinstance(status.error, LaunchRefused)
    assert "already in use" in status.error.message
    assert live_app.engine.status().ready  # the running engine is untouched


@pytest.mark.usefixtures("vllm_cache")  # it launches vLLM
async def test_an_engine_that_exits_while_starting_is_reported(tmp_path: Path, models_dir: Path) -> None:
    # vLLM itself rejects a negative max-model-len after it starts: the process exits.
    settings = launch_settings(models_dir / "scripted", tmp_path, engine_args="--max-num-seqs -1")
    engine = Engine(settings)
    await engine.start()
    status = await engine.wait_ready(within=120)
    assert status.state is EngineState.ERROR
    assert status.error is not None
    assert "exited with code" in status.error.message
    await engine.stop()


@contextmanager
def nothing_answers() -> Iterator[tuple[str, list[int]]]:
    """A loopback port that takes each connection and closes it unanswered: its `/v1` URL, and the
    connections taken so far (one a poll)."""
    taken: list[int] = []
    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.05)

        def take() -> None:
            while not stop.is_set():
                try:
                    connection, (_, port) = listener.accept()
                except TimeoutError:
                    continue
                connection.close()
                taken.append(port)

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", taken
        finally:
            stop.set()
            thread.join()


async def test_an_external_engine_is_waited_for_not_launched(tmp_path: Path) -> None:
    with nothing_answers() as (url, polls):
        engine = Engine(make_settings(vllm_base_url=url))
        await engine.start()
        await until(lambda: len(polls), lambda asked: asked >= 2)  # asked twice, answered never
    status = engine.status()
    assert status.state is EngineState.EXTERNAL
    assert not status.ready
    assert engine.pid is None
    with pytest.raises(EngineNotReady, match="still loading"):
        engine.require_ready()
    await engine.stop()
    assert engine.status().state is EngineState.STOPPED


async def test_a_server_without_health_is_ready_once_it_lists_its_models_to_the_key() -> None:
    fake = FakeEngine(health=False, api_key="the-key")
    with serve_fake(fake) as url:
        wrong = Engine(make_settings(vllm_base_url=url, vllm_api_key="not-the-key"))
        await wrong.start()
        await until(lambda: fake.got.count("/v1/models"), lambda asked: asked >= 2)  # asked, refused
        assert not wrong.status().ready
        await wrong.stop()
        engine = Engine(make_settings(vllm_base_url=url, vllm_api_key="the-key"))
        await engine.start()
        assert (await engine.wait_ready(within=10)).ready
        await engine.stop()


def test_stopping_kills_the_whole_process_group() -> None:
    # A leader that ignores SIGTERM, with a child: both must be gone afterwards.
    process = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300 & sleep 300"], start_new_session=True)
    stop_process_group(process, grace=1.0)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


HUB_MODEL = "tiny/scripted"


@pytest.fixture
def held_hub(models_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A hub serving the tiny scripted model that holds its weights halfway until released; HF_* set for it."""
    files = {path.name: path.read_bytes() for path in (models_dir / "scripted").iterdir()}
    hub = FakeHub({HUB_MODEL: FakeRepo(files)}, hold="model.safetensors")
    with serve_hub(hub):
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        for name in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "VLLM_USE_MODELSCOPE"):
            monkeypatch.delenv(name, raising=False)
        yield hub


def flag_of(pid: int, name: str) -> str:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return args[args.index(name) + 1]


@pytest.mark.usefixtures("vllm_cache")  # it launches vLLM
async def test_a_hub_model_is_downloaded_then_served_from_its_local_copy(held_hub: FakeHub, tmp_path: Path) -> None:
    engine = Engine(launch_settings(Path(HUB_MODEL), tmp_path))
    await engine.start()
    assert engine.status().state is EngineState.DOWNLOADING
    launched = engine.pid
    assert launched is None  # vLLM waits for its weights
    await asyncio.to_thread(held_hub.holding.wait, 30)
    report = await until(
        lambda: engine_report(engine, []), lambda r: r.download is not None and r.download.files_done == 4
    )
    # The other files are in; the weights are held halfway: the progress is between the two.
    assert report.state == "downloading" and report.phase == "downloading weights"
    assert report.download is not None and 0 < (report.download.percent or 0) < 100
    assert report.download.current_file == "model.safetensors"
    assert banner_markdown(report, "en").startswith("⏳ Downloading weights: 1% (11 kB of 835 kB")
    assert "正在下载模型权重：1%" in status_markdown(report, "zh")
    with pytest.raises(EngineNotReady, match=r"weights are downloading \(1% done\)"):
        engine.require_ready()

    held_hub.release.set()
    await until(lambda: {"pid": engine.pid, "error": engine.status().error}, lambda r: r["pid"] or r["error"])
    assert engine.status().state is EngineState.STARTING
    assert engine.pid is not None
    local = local_copy(HUB_MODEL)
    assert local is not None and local.is_relative_to(tmp_path / "hf")
    assert flag_of(engine.pid, "--model") == str(local)
    assert environment_of(engine.pid)["HF_HUB_OFFLINE"] == "1"  # vLLM must not ask the hub again
    assert engine_report(engine, []).model == HUB_MODEL
    await engine.stop()

    # The next start finds the weights here: it launches at once, without asking the hub.
    held_hub.requests.clear()
    await engine.start()
    assert engine.status().state is EngineState.STARTING and engine.pid is not None
    assert held_hub.requests == []
    await engine.stop()


async def test_stopping_during_the_download_ends_it(held_hub: FakeHub, tmp_path: Path) -> None:
    engine = Engine(launch_settings(Path(HUB_MODEL), tmp_path))
    await engine.start()
    await asyncio.to_thread(held_hub.holding.wait, 30)
    assert downloads_running() != []
    started = time.monotonic()
    await engine.stop()
    assert time.monotonic() - started < 5
    assert downloads_running() == []
    assert engine.status().state is EngineState.STOPPED and engine.pid is None


def environment_of(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


def downloads_running() -> list[int]:
    """Processes of this user downloading the hub model (`python -m webapp.engine.weights tiny/scripted`)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"webapp.engine.weights\0" + HUB_MODEL.encode() in cmdline:
            found.append(int(proc.name))
    return found


@pytest.mark.usefixtures("vllm_cache")  # it launches vLLM
async def test_the_launched_engine_gets_none_of_the_apps_secrets(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "ADMIN_PASSWORD": "admin-secret-1",
        "SECRET_KEY": "cookie-secret-2",
        "DATABASE_URL": "postgresql+psycopg://u:db-secret-3@db/r1chat",
        "OPENAI_API_KEY": "other-secret-4",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HF_TOKEN", "hub-token")  # what vLLM needs for a gated model stays
    engine = Engine(launch_settings(models_dir / "scripted", tmp_path))
    await engine.start()
    try:
        assert engine.pid is not None
        # Read at once: the environment is the process's from its exec on (Popen returns after it).
        environ: list[bytes] = []
        for _ in range(40):  # read empty only while it is gone (a zombie): then the log says why
            environ = (await asyncio.to_thread(Path(f"/proc/{engine.pid}/environ").read_bytes)).split(b"\0")
            if any(environ):
                break
            await asyncio.sleep(0.05)
    finally:
        await engine.stop()
    log = tmp_path / "engine.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    assert any(environ), f"the engine exited before its environment was read; its log:\n{tail}"
    names = {entry.partition(b"=")[0].decode() for entry in environ if entry}
    assert not names & secrets.keys()
    assert not any(value.encode() in entry for entry in environ for value in secrets.values())
    assert {"HF_TOKEN", "VLLM_API_KEY", "PATH"} <= names
    assert f"VLLM_API_KEY={engine.api_key}".encode() in environ
