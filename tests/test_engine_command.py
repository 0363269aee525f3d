"""The vLLM command line and environment the launcher builds from the settings."""

from __future__ import annotations

from typing import Any

from tests.helpers import make_settings
from webapp.engine.command import app_variables, engine_command, engine_environment, health_url
from webapp.settings import Settings


def settings(**overrides: Any) -> Settings:
    return make_settings(**overrides)


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_command_carries_the_settings() -> None:
    command = engine_command(
        settings(model="/models/r1-awq", max_model_len=2048, gpu_memory_utilization=0.8, engine_port=8123),
        python="python3",
    )
    assert command[:3] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert flag(command, "--model") == "/models/r1-awq"
    assert flag(command, "--served-model-name") == "DeepSeek-R1-Distill-Qwen-1.5B"
    assert flag(command, "--reasoning-parser") == "deepseek_r1"
    assert flag(command, "--max-model-len") == "2048"
    assert flag(command, "--gpu-memory-utilization") == "0.8"
    assert flag(command, "--host") == "127.0.0.1"
    assert flag(command, "--port") == "8123"


def test_quantization_is_left_to_detection_unless_asked() -> None:
    assert "--quantization" not in engine_command(settings())
    assert flag(engine_command(settings(quantization="awq")), "--quantization") == "awq"


def test_enforce_eager_and_extra_args() -> None:
    assert "--enforce-eager" not in engine_command(settings())
    command = engine_command(settings(enforce_eager=True, engine_args="--tensor-parallel-size 2 --seed '7'"))
    assert "--enforce-eager" in command
    assert command[-4:] == ["--tensor-parallel-size", "2", "--seed", "7"]


def test_api_key_goes_in_the_environment_not_the_command() -> None:
    key = "k-123"
    assert not any(key in part for part in engine_command(settings()))
    env = engine_environment(key, {"VLLM_BASE_URL": "x", "VLLM_LOG_FILE": "y", "PATH": "/bin"})
    assert env["VLLM_API_KEY"] == key
    assert "VLLM_BASE_URL" not in env and "VLLM_LOG_FILE" not in env
    assert env["VLLM_NO_USAGE_STATS"] == "1" and env["PATH"] == "/bin"


def test_a_cpu_engine_gets_a_bounded_kv_cache() -> None:
    assert engine_environment("k", {}, gpu=False)["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert engine_environment("k", {"VLLM_CPU_KVCACHE_SPACE": "4"}, gpu=False)["VLLM_CPU_KVCACHE_SPACE"] == "4"
    assert "VLLM_CPU_KVCACHE_SPACE" not in engine_environment("k", {}, gpu=True)


def test_health_url_sits_beside_v1() -> None:
    assert health_url("http://h:8000/v1") == "http://h:8000/health"
    assert health_url("http://h:8000") == "http://h:8000/health"


def test_the_engine_gets_none_of_the_apps_settings_or_secrets() -> None:
    given = {
        # the app's settings, its secrets first (pydantic-settings reads them in any case)
        "ADMIN_PASSWORD": "a",
        "SECRET_KEY": "s",
        "DATABASE_URL": "postgresql+psycopg://u:p@db/r1chat",
        "USERS_FILE": "/etc/r1chat/users",
        "VLLM_API_KEY": "key-of-an-external-engine",
        "VLLM_BASE_URL": "x",
        "VLLM_LOG_FILE": "y",
        "MAX_CONVERSATIONS": "5",
        "secret_key": "lower case",
        # other secrets, by their names
        "OPENAI_API_KEY": "o",
        "AWS_SECRET_ACCESS_KEY": "w",
        "GITHUB_TOKEN": "g",
        "PGPASSWORD": "p",
        "TEST_DATABASE_URL": "postgresql+psycopg://u:p@db/test",
        # what vLLM, the hubs, torch and the system need
        "HF_TOKEN": "hf",
        "HUGGING_FACE_HUB_TOKEN": "hf",
        "HF_HOME": "/cache",
        "VLLM_CPU_KVCACHE_SPACE": "4",
        "CUDA_VISIBLE_DEVICES": "0",
        "OMP_NUM_THREADS": "2",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",
        "PATH": "/bin",
        "HOME": "/home/app",
        "LANG": "C.UTF-8",
    }
    env = engine_environment("fresh-key", given)
    kept = {
        "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HOME", "VLLM_CPU_KVCACHE_SPACE", "CUDA_VISIBLE_DEVICES",
        "OMP_NUM_THREADS", "TOKENIZERS_PARALLELISM", "PYTORCH_CUDA_ALLOC_CONF", "PATH", "HOME", "LANG",
    }  # fmt: skip
    assert {name for name in given if name in env} == kept | {"VLLM_API_KEY"}
    assert all(env[name] == given[name] for name in kept)
    assert env["VLLM_API_KEY"] == "fresh-key"  # the launched engine's own, not the external one's
    every_setting = engine_environment("k", dict.fromkeys(app_variables(), "v"))
    assert {"ADMIN_PASSWORD", "SECRET_KEY", "DATABASE_URL", "USERS_FILE"} <= app_variables()
    assert app_variables() & every_setting.keys() == {"VLLM_API_KEY"} and every_setting["VLLM_API_KEY"] == "k"
