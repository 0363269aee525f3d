"""The status report as the status tab and the chat's banner show it (pure)."""

from __future__ import annotations

import math

from webapp.chat.render import display
from webapp.ops.report import Download, EngineReport
from webapp.ui.i18n import Lang, t


def status_markdown(engine: EngineReport, lang: Lang) -> str:
    """The engine's state, config and problems, for the status tab."""
    rows = [
        (t("engine", lang), f"`{engine.state}`" + (f" · {engine.phase}" if engine.phase else "")),
        (t("model", lang), display(str(engine.model or ""))),
        ("served name", display(str(engine.served_model_name or "—"))),
        ("dtype", str(engine.dtype or "—")),
        ("quantization", str(engine.quantization or "—")),
        ("max_model_len", str(engine.max_model_len or "—")),
        ("vLLM", str(engine.version or "—")),
        (t("restarts", lang), str(engine.restarts)),
    ]
    if engine.download:
        rows.append((t("weights", lang), download_markdown(engine.download, lang, detail=True)))
    if engine.last_exit:
        rows.append((t("last_exit", lang), display(engine.last_exit)))
    figures = engine.metrics
    if figures:
        running, waiting = figures.get("requests_running", 0), figures.get("requests_waiting", 0)
        rows.append(("requests running / waiting", f"{running:.0f} / {waiting:.0f}"))
        if "kv_cache_usage" in figures:
            rows.append(("KV cache", f"{figures['kv_cache_usage'] * 100:.1f} %"))
        if "generation_tokens" in figures:
            rows.append(("tokens generated", f"{figures['generation_tokens']:.0f}"))
        if "mean_ttft_s" in figures:
            rows.append(("mean time to first token", f"{figures['mean_ttft_s'] * 1000:.0f} ms"))
    for endpoint in engine.endpoints or []:
        state = f"up · queue {endpoint.queue:.0f} · {endpoint.inflight} from here" if endpoint.healthy else "down"
        rows.append(("endpoint", f"{display(endpoint.url)} · {state}"))
    for gpu in engine.gpus or []:
        rows.append(("GPU", f"{display(gpu.name)} · {gpu.memory_used} / {gpu.memory_total}"))
    lines = ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)]
    problems = []
    if engine.error:
        error = engine.error
        problems.append(f"**⚠️ {display(error.message)}**" + (f" — {display(error.hint)}" if error.hint else ""))
    for diagnosis in engine.diagnoses:
        mark = "ℹ️" if diagnosis.severity == "info" else "⚠️"
        problems.append(f"{mark} {display(diagnosis.message)} — {display(diagnosis.hint or '')}")
    return "\n".join([*lines, "", *problems])


def phases_markdown(engine: EngineReport, lang: Lang) -> str:
    phases = engine.phases
    if not phases:
        return ""
    rows = []
    for phase in phases:
        took = "" if phase.seconds is None else f"{phase.seconds:.0f} s"
        rows.append(f"| {display(phase.name)} | {phase.time or ''} | {took} |")
    return "\n".join([f"| {t('timeline', lang)} | {t('time', lang)} | ⏱ |", "|---|---|---|", *rows])


def banner_markdown(engine: EngineReport, lang: Lang) -> str:
    """The line above the chat while the engine is not ready (empty when it is)."""
    if engine.ready:
        return ""
    if engine.error:
        return f"⚠️ {t('error_banner', lang).format(message=display(engine.error.message))}"
    if engine.state == "downloading" and engine.download:
        return f"⏳ {download_markdown(engine.download, lang)}{t('download_banner_end', lang)}"
    return f"⏳ {t('loading_banner', lang).format(phase=engine.phase or engine.state)}"


def download_markdown(download: Download, lang: Lang, *, detail: bool = False) -> str:
    """How far the weights' download has got, e.g. "Downloading weights: 43% (700 MB of 1.6 GB, 12 MB/s, …)"."""
    if download.bytes_total is None:
        return t("download_listing", lang)
    percent = int(download.percent or 0)  # rounded down: 100% only once it is complete
    if download.finished:
        return t("downloaded", lang).format(total=human_bytes(download.bytes_total), files=download.files_total)
    if download.error:
        return t("download_stopped", lang).format(percent=percent)
    rate = []
    if download.speed:
        rate.append(f"{human_bytes(download.speed)}/s")
    if download.eta is not None:
        rate.append(time_left(download.eta, lang))
    separator = t("list_separator", lang)
    text = t("downloading", lang).format(
        percent=percent,
        done=human_bytes(download.bytes_done),
        total=human_bytes(download.bytes_total),
        rate="".join(separator + part for part in rate),
    )
    if detail and download.current_file:
        files = t("download_files", lang).format(done=download.files_done + 1, total=download.files_total)
        text += f" · {files}: `{display(download.current_file)}`"
    return text


def human_bytes(count: float) -> str:
    """A size as people read it, in decimal units as hubs show them: 836 kB, 1.6 GB."""
    if count < 1000:
        return f"{count:.0f} B"
    units = ("kB", "MB", "GB", "TB")
    power = min(len(units), int(math.log10(count) // 3))
    value = count / 1000**power
    if value >= 999.5 and power < len(units):  # 999.7 MB would print as "1000 MB"
        value, power = value / 1000, power + 1
    return f"{value:.1f} {units[power - 1]}" if value < 9.95 else f"{value:.0f} {units[power - 1]}"


def time_left(seconds: float, lang: Lang) -> str:
    if seconds < 60:
        return t("left_seconds", lang).format(n=max(1, round(seconds)))
    minutes = round(seconds / 60)
    if minutes < 60:
        return t("left_minutes", lang).format(n=minutes)
    return t("left_hours", lang).format(h=minutes // 60, m=minutes % 60)
