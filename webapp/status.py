"""The status report: the engine's state, phase and config from the log and readiness, and the database."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from webapp import engine_log
from webapp.engine import Engine
from webapp.store import Store


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def engine_report(engine: Engine, lines: list[str]) -> dict[str, Any]:
    """What the engine is doing, from its state and the tail of its log (read in both engine modes)."""
    status = engine.status()
    current = lines[engine_log.last_start(lines) :]
    steps = engine_log.phases(current)
    config = engine_log.engine_config(current)
    quantization = config.get("quantization")
    return {
        "state": status.state.value,
        "ready": status.ready,
        "phase": steps[-1].name if steps else None,
        "phases": [{"name": p.name, "time": p.time} for p in steps],
        "model": config.get("model") or engine.settings.model,
        "served_model_name": config.get("served_model_name"),
        "dtype": config.get("dtype"),
        "quantization": None if quantization in (None, "None") else quantization,
        "max_model_len": _int_or_none(config.get("max_model_len")),
        "version": config.get("version"),
        "base_url": status.base_url,
        "restarts": engine.restarts,
        "last_exit": engine.last_exit,
        "log_file": str(engine.settings.vllm_log_file),
        "error": (
            {"kind": status.error.kind, "message": status.error.message, "hint": status.error.hint}
            if status.error is not None
            else None
        ),
        "diagnoses": [
            {"kind": d.kind, "message": d.message, "hint": d.hint, "severity": d.severity}
            for d in engine_log.diagnose(current)
        ],
    }


def database_report(store: Store) -> dict[str, Any]:
    try:
        with store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach it is the report
        return {"ok": False, "backend": store.engine.dialect.name, "error": str(exc)}
    return {"ok": True, "backend": store.engine.dialect.name}


async def status_report(engine: Engine, store: Store) -> dict[str, Any]:
    lines = await asyncio.to_thread(engine_log.read_tail, engine.settings.vllm_log_file)
    return {"engine": engine_report(engine, lines), "db": await asyncio.to_thread(database_report, store)}
