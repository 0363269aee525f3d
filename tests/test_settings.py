"""The one settings class: defaults, environment, and the table of it in docs/configuration.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.helpers import make_settings
from webapp.settings import Settings

CONFIGURATION = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def env_names() -> dict[str, str]:
    """Field name -> the environment variable that sets it."""
    return {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}


def test_defaults_follow_the_product(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_names().values():
        monkeypatch.delenv(name, raising=False)
    settings = make_settings()
    assert "awq" in settings.model.lower()
    assert settings.served_model_name == "DeepSeek-R1-Distill-Qwen-1.5B"
    assert settings.quantization is None  # detected from the checkpoint, not forced
    assert (settings.max_model_len, settings.gpu_memory_utilization, settings.engine_port) == (4096, 0.9, 8000)
    assert settings.vllm_log_file == Path("deepseek_qwen.log")
    assert (settings.host, settings.port) == ("127.0.0.1", 7860)  # open, so on this machine only
    assert not settings.accounts and not settings.share
    assert not settings.external_engine
    assert settings.resolved_database_url == "sqlite:///data/chat.db"


def test_fixed_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://gpu-box:8000/v1/")
    monkeypatch.setenv("VLLM_LOG_FILE", "/var/log/deepseek_qwen.log")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@db/chat")
    monkeypatch.setenv("MAX_MODEL_LEN", "8192")
    monkeypatch.setenv("ENFORCE_EAGER", "true")
    settings = make_settings()
    assert settings.vllm_base_url == "http://gpu-box:8000/v1"
    assert settings.external_engine
    assert settings.vllm_log_file == Path("/var/log/deepseek_qwen.log")
    assert settings.resolved_database_url == "postgresql+psycopg://u:p@db/chat"
    assert settings.max_model_len == 8192
    assert settings.enforce_eager is True


@pytest.mark.parametrize("blank", ["", "  ", "auto"])
def test_blank_quantization_means_detect(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("QUANTIZATION", blank)
    assert make_settings().quantization is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vllm_base_url": "gpu-box:8000"}, "must start with http"),
        ({"gpu_memory_utilization": 1.5}, "less than or equal to 1"),
        ({"max_model_len": 0}, "greater than or equal to 128"),
        ({"port": 8000, "engine_port": 8000}, "both 8000"),
    ],
)
def test_bad_values_fail_fast_with_the_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(**overrides)


def test_every_setting_is_in_the_configuration_table_with_its_default() -> None:
    rows = {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^\| `([A-Z_]+)` \| ([^|]*)\|", CONFIGURATION.read_text(), re.MULTILINE)
    }
    for name, variable in env_names().items():
        assert variable in rows, f"{variable} is missing from docs/configuration.md's table"
        field = Settings.model_fields[name]
        assert field.description, f"{name} has no description"
        default = field.default
        shown = "" if default is None else str(default.value if hasattr(default, "value") else default)
        if isinstance(default, bool):
            shown = str(default).lower()
        assert rows[variable].strip("`") == shown, f"docs/configuration.md default of {variable} is {rows[variable]!r}"
    assert set(rows) == set(env_names().values()), "docs/configuration.md lists a setting the class does not have"
