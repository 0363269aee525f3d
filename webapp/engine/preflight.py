"""Mistakes in the engine configuration that can be seen before launching it.

Each check raises `LaunchRefused` with what to do, instead of letting vLLM spend
a minute loading and then die in its log.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from webapp.engine import hub
from webapp.errors import LaunchRefused

_AWQ_METHODS = {"awq", "awq_marlin"}


def looks_like_path(model: str) -> bool:
    """True when `model` names a directory rather than a hub id like `org/name`."""
    return model.startswith(("/", "./", "../", "~")) or model.count("/") != 1 or Path(model).exists()


def checkpoint_config(model: str) -> dict[str, Any] | None:
    """The checkpoint's config.json, if it is on this machine."""
    path = Path(model).expanduser() / "config.json" if looks_like_path(model) else _cached_hub_config(model)
    if path is None or not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LaunchRefused(
            f"The model's config.json at {path} cannot be read: {exc}", hint="Re-download the checkpoint."
        ) from exc
    return data


def quant_method(model: str) -> str | None:
    """The checkpoint's quantization method ("" when unquantized), or None when not on this machine."""
    config = checkpoint_config(model)
    if config is None:
        return None
    return str((config.get("quantization_config") or {}).get("quant_method", "")).lower()


def _cached_hub_config(model: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(model, "config.json", cache_dir=hub.hub_cache())
    return Path(found) if isinstance(found, str) else None


def check_model(model: str, quantization: str | None) -> None:
    """Refuse a missing local checkpoint, or AWQ asked for one that is not AWQ."""
    if looks_like_path(model):
        directory = Path(model).expanduser()
        if not directory.is_dir():
            raise LaunchRefused(
                f"The model directory {model} does not exist.",
                hint="Set MODEL to a downloaded checkpoint directory or to a Hugging Face id.",
            )
        if not (directory / "config.json").is_file():
            raise LaunchRefused(
                f"{model} has no config.json, so it is not a model checkpoint.",
                hint="Point MODEL at the directory that holds config.json and the weights.",
            )
    if quantization not in _AWQ_METHODS:
        return
    method = quant_method(model)
    if method is None:
        return  # not on this machine yet: vLLM will check it after downloading
    if method != "awq":
        found = f"a {method} checkpoint" if method else "an unquantized checkpoint"
        raise LaunchRefused(
            f"QUANTIZATION={quantization} was asked for, but {model} is {found} "
            "(its config.json has no AWQ quantization_config).",
            hint="Use an AWQ checkpoint such as casperhansen/deepseek-r1-distill-qwen-1.5b-awq, "
            "or leave QUANTIZATION empty to serve this one as it is.",
        )


def has_nvidia_gpu() -> bool:
    """True when an NVIDIA driver is present, so vLLM's GPU build is the one in use."""
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def awq_kernel_available(*, gpu: bool, flags: set[str]) -> bool:
    """Whether vLLM has a 4-bit AWQ kernel here (see `check_awq_kernel`)."""
    return gpu or platform.machine() not in ("x86_64", "AMD64") or "avx512f" in flags


def check_awq_kernel(model: str, *, gpu: bool, flags: set[str]) -> None:
    """Refuse an AWQ checkpoint on an x86 CPU whose vLLM build has no AWQ kernel.

    vLLM's CPU package ships an AVX-512 and an AVX2 library; only the first has the
    4-bit kernel (`cpu_gemm_wna16`), so on AVX2-only CPUs the engine loads the
    checkpoint and then fails on the first request.
    """
    if awq_kernel_available(gpu=gpu, flags=flags):
        return
    if quant_method(model) == "awq":
        raise LaunchRefused(
            f"{model} is an AWQ checkpoint, and vLLM's CPU build has no AWQ kernel for this "
            "CPU (it needs AVX-512; this one has only AVX2).",
            hint="Serve the unquantized checkpoint on this machine "
            "(MODEL=deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B), or run on a GPU.",
        )


def check_port_free(host: str, port: int) -> None:
    """Refuse a port that something else already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn does: connections of a previous engine lingering in TIME_WAIT do not
        # hold the port; only a socket that listens there does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            probe.listen()
        except OSError as exc:
            raise LaunchRefused(
                f"Port {port} on {host} is already in use, so the engine cannot listen there.",
                hint="Stop whatever uses it (an engine started by hand? then set VLLM_BASE_URL "
                "to use it), or set ENGINE_PORT to a free port.",
            ) from exc


def check_downloadable(model: str, *, timeout: float = 3.0) -> None:
    """Refuse a hub model that is not (all) on this machine when its hub cannot be reached.

    Without this, the download would sit in retries for minutes on an offline host.
    """
    if looks_like_path(model) or hub.local_copy(model) is not None:
        return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise LaunchRefused(
            f"The model {model} is not downloaded and HF_HUB_OFFLINE is set.",
            hint="Download it (huggingface-cli download or modelscope download) and set MODEL "
            "to its directory, or unset HF_HUB_OFFLINE.",
        )
    hub.require_source()
    if hub.use_modelscope():
        endpoint = os.environ.get("MODELSCOPE_DOMAIN", "https://www.modelscope.cn")
    else:
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if not endpoint.startswith(("http://", "https://")):
        endpoint = f"https://{endpoint}"
    url = urlsplit(endpoint)
    address = (url.hostname or "", url.port or (443 if url.scheme == "https" else 80))
    if not _reachable(address, timeout):
        raise LaunchRefused(
            f"The model {model} is not downloaded, and {url.hostname} cannot be reached to download it.",
            hint="Set HF_ENDPOINT to a mirror you can reach (or VLLM_USE_MODELSCOPE=True), or "
            "download the checkpoint elsewhere and set MODEL to its directory.",
        )


def _reachable(address: tuple[str, int], timeout: float) -> bool:
    # Name resolution ignores socket timeouts, so the whole probe runs in a thread we can abandon.
    def connect() -> None:
        socket.create_connection(address, timeout=timeout).close()

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(connect).result(timeout=timeout)
    except Exception:  # refused, unresolvable, or too slow: all mean "not reachable"
        return False
    finally:
        pool.shutdown(wait=False)
    return True
