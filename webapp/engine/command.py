"""How the launched vLLM server is started: its command line, its environment, and where it answers.

The command line carries the settings; the environment carries the API key (not on the command
line, where `ps` would show it) and none of the app's secrets.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from webapp.settings import Settings

ENGINE_HOST = "127.0.0.1"  # never exposed: the app is the only way in
# Variables the engine is given as they are, secret-sounding names or not: its own (VLLM_*), and
# those of the hubs it may read from (HF_TOKEN for gated models, ModelScope's).
_ENGINE_PREFIXES = ("VLLM_", "HF_", "HUGGING_FACE_", "HUGGINGFACE_", "MODELSCOPE_")
# A name that says it holds a secret: a word of it ends in one of these (API_KEY, AUTHTOKEN,
# DB_PASSWORD...), or it is a database URL (user and password in it).
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|KEY|TOKEN|CREDENTIALS?)(_|$)|DATABASE_URL$")


def app_variables() -> frozenset[str]:
    """The environment variables the app's settings are read from (upper case: they are read in any case)."""
    return frozenset(
        field.validation_alias.upper()
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    )


def engine_command(settings: Settings, *, python: str = sys.executable, model: str | None = None) -> list[str]:
    """The vLLM command line for these settings (the API key goes in the environment).

    `model` is the directory to serve when it differs from MODEL (a hub model's local copy).
    """
    command = [
        python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model or settings.model,
        "--served-model-name",
        settings.served_model_name,
        "--reasoning-parser",
        "deepseek_r1",
        "--max-model-len",
        str(settings.max_model_len),
        "--gpu-memory-utilization",
        str(settings.gpu_memory_utilization),
        "--dtype",
        settings.dtype,
        "--host",
        ENGINE_HOST,
        "--port",
        str(settings.engine_port),
    ]
    if settings.quantization:
        command += ["--quantization", settings.quantization]
    if settings.enforce_eager:
        command.append("--enforce-eager")
    command += shlex.split(settings.engine_args)
    return command


def engine_environment(
    api_key: str, base: dict[str, str] | None = None, *, gpu: bool = True, downloaded: bool = False
) -> dict[str, str]:
    """The launched engine's environment: offline-safe, quiet, with its API key, and none of the app's secrets.

    Left out: every variable of the app's settings (ADMIN_PASSWORD, SECRET_KEY, DATABASE_URL, an
    external engine's VLLM_API_KEY, ...) and every other one named like a secret (OPENAI_API_KEY,
    AWS_SECRET_ACCESS_KEY...), but vLLM's and the model hubs' own. What vLLM, torch and CUDA read
    (PATH, HOME, LANG, CUDA_*, OMP_*, TOKENIZERS_PARALLELISM...) stays.
    `downloaded`: the app fetched the weights, so vLLM must not ask any hub again.
    """
    ours = app_variables()
    env = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if name.upper() not in ours
        and (name.upper().startswith(_ENGINE_PREFIXES) or not _SECRET_NAME.search(name.upper()))
    }
    if downloaded:
        env["HF_HUB_OFFLINE"] = "1"
        env.pop("VLLM_USE_MODELSCOPE", None)  # it would make vLLM import modelscope even for a directory
    if not gpu:
        # On the CPU vLLM otherwise reads GPU_MEMORY_UTILIZATION as a share of all RAM
        # for its KV cache, and refuses to start when less than that is free.
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env["VLLM_API_KEY"] = api_key  # not on the command line, where `ps` would show it
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def health_url(base_url: str) -> str:
    """vLLM's `/health` sits beside `/v1`, not under it."""
    root = base_url.removesuffix("/").removesuffix("/v1")
    return f"{root}/health"
