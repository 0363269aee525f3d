"""The evaluation tab (admins only: it spends the engine's capacity); thin, over `evaluation`."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd  # type: ignore[import-untyped]  # comes with gradio, without type stubs

from webapp.auth.admin import require_admin
from webapp.errors import AppError
from webapp.ops.evaluation.questions import BUILTIN_MATH, Question
from webapp.ops.evaluation.report import summary_rows, write_csv
from webapp.ops.evaluation.runner import Backend, run_evaluation
from webapp.ops.evaluation.summary import RunResult, summarise
from webapp.ui.account import Labels
from webapp.ui.context import PRIVATE, Page, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t

MAX_RUNS = 100
MAX_CONCURRENCY = 32
# While runs go on, progress and table refresh this often, and the plots (costly to draw) more rarely.
UPDATE_SECONDS = 0.3
PLOT_SECONDS = 2.0


def summary_headers(lang: Lang) -> list[str]:
    """The summary table's columns (those of `evaluation.SUMMARY_HEADERS`), in `lang`."""
    figures = [
        f"{t(key, lang)} {stat}"
        for key in ("eval_ttft", "eval_latency", "eval_tps")
        for stat in (t("eval_mean", lang), "p50", "p95")
    ]
    return [
        t("eval_question", lang), t("eval_runs_col", lang), t("eval_errors", lang), *figures,
        t("eval_majority", lang), t("eval_agreement", lang), t("eval_accuracy", lang),
    ]  # fmt: skip


def runs_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """Completed runs in the order they ended, for the plots: `seq`, `run` (a label), `question` and the figures."""
    width = len(str(max((r.run for r in results), default=1)))
    rows = [
        {
            "seq": seq,
            "run": f"{r.question} #{r.run:0{width}d}",
            "question": r.question,
            "ttft_ms": r.ttft_ms,
            "latency_s": r.latency_s,
            "tokens_per_s": r.tokens_per_s,
        }
        for seq, r in enumerate(results, start=1)
        if r.error is None
    ]
    columns = ["seq", "run", "question", "ttft_ms", "latency_s", "tokens_per_s"]
    return pd.DataFrame(rows, columns=columns)


def csv_file(results: Sequence[RunResult], questions: Sequence[Question]) -> str:
    """The runs written to a fresh temporary CSV file; its path."""
    directory = Path(tempfile.mkdtemp(prefix="r1chat-eval-"))
    path = directory / time.strftime("evaluation-%Y%m%d-%H%M%S.csv")
    with path.open("w", newline="", encoding="utf-8") as out:
        write_csv(out, results, questions)
    return str(path)


def build_eval_tab(page: Page) -> Labels:
    """A prompt or the built-in set, run N times k at once: summary table, plots and CSV."""
    blocks, identity_of, lang = page.blocks, page.identity_of, page.lang
    client: Backend = page.service.client

    def admin_of(request: gr.Request) -> None:
        with shown():
            require_admin(identity_of(request))

    def on_load(request: gr.Request) -> Any:
        return gr.update(visible=identity_of(request).is_admin)

    def view(
        results: Sequence[RunResult], questions: Sequence[Question], total: int, language: Lang
    ) -> tuple[Any, ...]:
        errors = sum(r.error is not None for r in results)
        progress = t("eval_progress", language).format(done=len(results), total=total, errors=errors)
        table = pd.DataFrame(summary_rows(summarise(results, questions)), columns=summary_headers(language))
        frame = runs_frame(results)
        return progress, table, frame, frame, frame

    async def on_run(
        builtin: bool, prompt: str, math: bool, known: str, runs: float | None, concurrency: float | None,
        max_tokens: float | None, language: Lang, request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        admin_of(request)
        prompt, known = (prompt or "").strip(), (known or "").strip()
        if not builtin and not prompt:
            raise gr.Error(t("eval_no_prompt", language))
        n, k = int(runs or 0), int(concurrency or 0)
        if not (1 <= n <= MAX_RUNS and 1 <= k <= MAX_CONCURRENCY):
            raise gr.Error(t("eval_bad_numbers", language).format(runs=MAX_RUNS, concurrency=MAX_CONCURRENCY))
        questions = BUILTIN_MATH if builtin else (Question("prompt", prompt, known or None, bool(math)),)
        total = len(questions) * n
        ended: list[RunResult] = []  # in the order the runs end
        job = asyncio.create_task(
            run_evaluation(
                client, questions, runs=n, concurrency=k, max_tokens=int(max_tokens or 0) or None, on_run=ended.append
            )
        )
        try:
            yield (*view(ended, questions, total, language), None)
            plotted = time.monotonic()
            while not job.done():
                await asyncio.wait({job}, timeout=UPDATE_SECONDS)
                progress, table, *plots = view(ended, questions, total, language)
                if time.monotonic() - plotted < PLOT_SECONDS:
                    plots = [gr.skip()] * len(plots)
                else:
                    plotted = time.monotonic()
                yield (progress, table, *plots, gr.skip())
            try:
                results = job.result()
            except AppError as exc:
                raise gr.Error(str(exc)) from exc
        finally:
            job.cancel()  # Stop pressed, or the page gone: the runs still going end with it
        progress, *rest = view(ended, questions, total, language)
        yield (f"{t('done', language)} {progress}", *rest, csv_file(results, questions))

    with gr.Tab(t("eval_tab", DEFAULT_LANG), elem_id="eval-tab", visible=False) as tab:
        intro = gr.Markdown(t("eval_intro", DEFAULT_LANG))
        builtin = gr.Checkbox(value=True, label=t("eval_builtin", DEFAULT_LANG), elem_id="eval-builtin")
        with gr.Row():
            prompt = gr.Textbox(
                label=t("eval_prompt", DEFAULT_LANG), lines=2, max_lines=6, elem_id="eval-prompt", scale=3
            )
            with gr.Column(scale=1):
                math = gr.Checkbox(value=True, label=t("eval_math", DEFAULT_LANG), elem_id="eval-math")
                known = gr.Textbox(label=t("eval_known_answer", DEFAULT_LANG), max_lines=1, elem_id="eval-answer")
        with gr.Row():
            runs = gr.Number(
                value=5,
                minimum=1,
                maximum=MAX_RUNS,
                precision=0,
                label=t("eval_runs", DEFAULT_LANG),
                elem_id="eval-runs",
            )
            concurrency = gr.Number(
                value=2, minimum=1, maximum=MAX_CONCURRENCY, precision=0,
                label=t("eval_concurrency", DEFAULT_LANG), elem_id="eval-concurrency",
            )  # fmt: skip
            max_tokens = gr.Number(
                value=0, minimum=0, precision=0, label=t("max_tokens", DEFAULT_LANG), elem_id="eval-max-tokens"
            )
        with gr.Row():
            run = gr.Button(t("eval_run", DEFAULT_LANG), variant="primary", elem_id="eval-run")
            stop = gr.Button(t("stop", DEFAULT_LANG), elem_id="eval-stop")
        progress = gr.Markdown(elem_id="eval-progress")
        table = page.labels.add_update(
            gr.Dataframe(headers=summary_headers(DEFAULT_LANG), interactive=False, wrap=True, elem_id="eval-summary"),
            # Gradio 6.31 takes new headers only with a value: a switch empties a finished summary
            # (a running evaluation's next update fills it again, in the new language).
            lambda language: gr.update(value=pd.DataFrame(columns=summary_headers(language))),
        )
        with gr.Row():
            ttft_plot = gr.ScatterPlot(
                x="seq", y="ttft_ms", color="question", x_title="#", y_title="ms",
                label=t("eval_ttft_plot", DEFAULT_LANG), elem_id="eval-ttft-plot",
            )  # fmt: skip
            latency_plot = gr.ScatterPlot(
                x="seq", y="latency_s", color="question", x_title="#", y_title="s",
                label=t("eval_latency_plot", DEFAULT_LANG), elem_id="eval-latency-plot",
            )  # fmt: skip
        tps_plot = gr.BarPlot(
            x="run", y="tokens_per_s", color="question", x_title="", y_title="tokens/s", sort="x", x_label_angle=-45,
            label=t("eval_tps_plot", DEFAULT_LANG), elem_id="eval-tps-plot",
        )  # fmt: skip
        download = gr.File(label=t("eval_csv", DEFAULT_LANG), interactive=False, elem_id="eval-csv")
    blocks.load(on_load, None, [tab], **PRIVATE)
    outputs = [progress, table, ttft_plot, latency_plot, tps_plot, download]
    inputs = [builtin, prompt, math, known, runs, concurrency, max_tokens, lang]
    running = run.click(on_run, inputs, outputs, concurrency_limit=None, show_progress="hidden", **PRIVATE)
    stop.click(None, cancels=[running], **PRIVATE)
    return [(tab, "eval_tab", "label"), (intro, "eval_intro", "value"), (builtin, "eval_builtin", "label"),
                 (prompt, "eval_prompt", "label"), (math, "eval_math", "label"), (known, "eval_known_answer", "label"),
                 (runs, "eval_runs", "label"), (concurrency, "eval_concurrency", "label"),
                 (max_tokens, "max_tokens", "label"), (run, "eval_run", "value"), (stop, "stop", "value"),
                 (ttft_plot, "eval_ttft_plot", "label"), (latency_plot, "eval_latency_plot", "label"),
                 (tps_plot, "eval_tps_plot", "label"), (download, "eval_csv", "label")]  # fmt: skip
