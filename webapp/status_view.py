"""The status report as the status tab and the chat's banner show it (pure)."""

from __future__ import annotations

from typing import Any

from webapp.i18n import Lang, t
from webapp.render import display


def status_markdown(engine: dict[str, Any], lang: Lang) -> str:
    """The engine's state, config and problems, for the status tab."""
    rows = [
        (t("engine", lang), f"`{engine['state']}`" + (f" · {engine['phase']}" if engine.get("phase") else "")),
        (t("model", lang), display(str(engine.get("model") or ""))),
        ("served name", display(str(engine.get("served_model_name") or "—"))),
        ("dtype", str(engine.get("dtype") or "—")),
        ("quantization", str(engine.get("quantization") or "—")),
        ("max_model_len", str(engine.get("max_model_len") or "—")),
        ("vLLM", str(engine.get("version") or "—")),
        (t("restarts", lang), str(engine.get("restarts", 0))),
    ]
    if engine.get("last_exit"):
        rows.append((t("last_exit", lang), display(engine["last_exit"])))
    figures = engine.get("metrics") or {}
    if figures:
        running, waiting = figures.get("requests_running", 0), figures.get("requests_waiting", 0)
        rows.append(("requests running / waiting", f"{running:.0f} / {waiting:.0f}"))
        if "kv_cache_usage" in figures:
            rows.append(("KV cache", f"{figures['kv_cache_usage'] * 100:.1f} %"))
        if "generation_tokens" in figures:
            rows.append(("tokens generated", f"{figures['generation_tokens']:.0f}"))
        if "mean_ttft_s" in figures:
            rows.append(("mean time to first token", f"{figures['mean_ttft_s'] * 1000:.0f} ms"))
    for gpu in engine.get("gpus") or []:
        rows.append(("GPU", f"{display(gpu['name'])} · {gpu['memory_used']} / {gpu['memory_total']}"))
    lines = ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)]
    problems = []
    if engine.get("error"):
        error = engine["error"]
        problems.append(
            f"**⚠️ {display(error['message'])}**" + (f" — {display(error['hint'])}" if error.get("hint") else "")
        )
    for diagnosis in engine.get("diagnoses", []):
        mark = "ℹ️" if diagnosis["severity"] == "info" else "⚠️"
        problems.append(f"{mark} {display(diagnosis['message'])} — {display(diagnosis['hint'])}")
    return "\n".join([*lines, "", *problems])


def phases_markdown(engine: dict[str, Any], lang: Lang) -> str:
    phases = engine.get("phases", [])
    if not phases:
        return ""
    rows = []
    for phase in phases:
        took = "" if phase.get("seconds") is None else f"{phase['seconds']:.0f} s"
        rows.append(f"| {display(phase['name'])} | {phase['time'] or ''} | {took} |")
    return "\n".join([f"| {t('timeline', lang)} | {t('time', lang)} | ⏱ |", "|---|---|---|", *rows])


def banner_markdown(engine: dict[str, Any], lang: Lang) -> str:
    """The line above the chat while the engine is not ready (empty when it is)."""
    if engine["ready"]:
        return ""
    if engine.get("error"):
        return f"⚠️ {t('error_banner', lang).format(message=display(engine['error']['message']))}"
    return f"⏳ {t('loading_banner', lang).format(phase=engine.get('phase') or engine['state'])}"
