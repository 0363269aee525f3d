"""The launcher refuses the mistakes it can see, each with what to do."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.helpers import free_port
from webapp.engine import preflight
from webapp.errors import LaunchRefused


def test_awq_asked_for_an_unquantized_checkpoint_is_refused(models_dir: Path) -> None:
    # The source article's command: --quantization awq on the official bf16 weights.
    with pytest.raises(LaunchRefused, match="QUANTIZATION=awq was asked for.*unquantized checkpoint") as err:
        preflight.check_model(str(models_dir / "random"), "awq")
    assert err.value.hint and "leave QUANTIZATION empty" in err.value.hint


def test_awq_asked_for_an_awq_checkpoint_passes(models_dir: Path) -> None:
    preflight.check_model(str(models_dir / "awq"), "awq")
    preflight.check_model(str(models_dir / "random"), None)


def test_a_missing_model_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LaunchRefused, match="does not exist"):
        preflight.check_model(str(tmp_path / "nowhere"), None)


def test_a_directory_without_config_is_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(LaunchRefused, match="no config.json"):
        preflight.check_model(str(tmp_path), None)


def test_a_port_in_use_is_refused() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(LaunchRefused, match=f"Port {port} .* already in use") as err:
            preflight.check_port_free("127.0.0.1", port)
        assert err.value.hint and "VLLM_BASE_URL" in err.value.hint
    preflight.check_port_free("127.0.0.1", port)


def test_connections_lingering_from_a_dead_server_do_not_hold_its_port() -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end of the connection stays in TIME_WAIT
    client.close()
    listener.close()
    preflight.check_port_free("127.0.0.1", port)  # a restarted engine may listen there again


def test_awq_on_a_cpu_without_its_kernel_is_refused(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    awq = str(models_dir / "awq")
    with pytest.raises(LaunchRefused, match="no AWQ kernel"):
        preflight.check_awq_kernel(awq, gpu=False, flags={"avx", "avx2"})
    preflight.check_awq_kernel(awq, gpu=False, flags={"avx2", "avx512f"})
    preflight.check_awq_kernel(awq, gpu=True, flags={"avx2"})
    preflight.check_awq_kernel(str(models_dir / "scripted"), gpu=False, flags={"avx2"})


def test_hub_ids_and_paths_are_told_apart() -> None:
    assert not preflight.looks_like_path("casperhansen/deepseek-r1-distill-qwen-1.5b-awq")
    assert preflight.looks_like_path("/models/r1")
    assert preflight.looks_like_path("./r1")
    assert preflight.looks_like_path("r1")


def test_an_undownloaded_model_offline_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LaunchRefused, match="not downloaded and HF_HUB_OFFLINE"):
        preflight.check_downloadable("someone/some-model")


def test_an_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(LaunchRefused, match="cannot be reached") as err:
        preflight.check_downloadable("someone/some-model", timeout=2.0)
    assert time.monotonic() - started < 5
    assert err.value.hint and "HF_ENDPOINT" in err.value.hint


def test_modelscope_without_its_package_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_USE_MODELSCOPE", "True")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.monotonic()
    with pytest.raises(LaunchRefused, match="modelscope package is not installed") as err:
        preflight.check_downloadable("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")
    assert err.value.hint and "pip install modelscope" in err.value.hint and "HF_ENDPOINT" in err.value.hint
    assert time.monotonic() - started < 1
