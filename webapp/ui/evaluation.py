"""The evaluation tab (admins only: it spends the engine's capacity); thin, over `ops.evaluation`."""

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
from webapp.llm.sampling import Sampling
from webapp.ops.evaluation.questions import BUILTIN_MATH, Question
from webapp.ops.evaluation.report import summary_rows, write_csv
from webapp.ops.evaluation.runner import Backend, run_evaluation
from webapp.ops.evaluation.summary import RunResult, summarise
from webapp.ui.context import PRIVATE, Page, refusal, shown
from webapp.ui.i18n import DEFAULT_LANG, Lang, t

MAX_RUNS = 100
MAX_CONCURRENCY = 32
# While runs go on, progress and table refresh this often, and the plots (costly to draw) more rarely.
UPDATE_SECONDS = 0.3
PLOT_SECONDS = 2.0


def summary_headers(lang: Lang) -> list[str]:
    """The summary table's columns (those of `report.SUMMARY_HEADERS`), in `lang`."""
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


def questions_of(
    builtin: bool, prompt: str, math: bool, known: str, runs: float | None, concurrency: float | None, language: Lang
) -> tuple[Sequence[Question], int, int]:
    """The questions to run, and how many times and how many at once, from the form; refused with a message."""
    prompt, known = (prompt or "").strip(), (known or "").strip()
    if not builtin and not prompt:
        raise refusal(t("eval_no_prompt", language), language)
    n, k = int(runs or 0), int(concurrency or 0)
    if not (1 <= n <= MAX_RUNS and 1 <= k <= MAX_CONCURRENCY):
        raise refusal(t("eval_bad_numbers", language).format(runs=MAX_RUNS, concurrency=MAX_CONCURRENCY), language)
    questions = BUILTIN_MATH if builtin else (Question("prompt", prompt, known or None, bool(math)),)
    return questions, n, k


def view(results: Sequence[RunResult], questions: Sequence[Question], total: int, language: Lang) -> tuple[Any, ...]:
    """Progress, summary table, and the runs for each of the three plots."""
    errors = sum(r.error is not None for r in results)
    progress = t("eval_progress", language).format(done=len(results), total=total, errors=errors)
    table = pd.DataFrame(summary_rows(summarise(results, questions)), columns=summary_headers(language))
    frame = runs_frame(results)
    rated = frame.dropna(subset=["tokens_per_s"])  # a run with no rate gets no bar (not one at 0)
    return progress, table, frame, frame, rated


class EvalTab:
    """A prompt or the built-in set, run N times k at once: summary table, plots and CSV.

    Built among the page's tabs, hidden until the page's load shows it to an admin; every run checks again.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        add = page.labels.add
        tab = gr.Tab(t("eval_tab", DEFAULT_LANG), elem_id="eval-tab", visible=False)
        with add(tab, "eval_tab") as self.tab:
            add(gr.Markdown(t("eval_intro", DEFAULT_LANG)), "eval_intro", "value")
            self._build_form()
            self._build_results()

    def _build_form(self) -> None:
        add = self.page.labels.add
        builtin = gr.Checkbox(value=True, label=t("eval_builtin", DEFAULT_LANG), elem_id="eval-builtin")
        self.builtin = add(builtin, "eval_builtin")
        with gr.Row():
            prompt = gr.Textbox(
                label=t("eval_prompt", DEFAULT_LANG), lines=2, max_lines=6, elem_id="eval-prompt", scale=3
            )
            self.prompt = add(prompt, "eval_prompt")
            with gr.Column(scale=1):
                math = gr.Checkbox(value=True, label=t("eval_math", DEFAULT_LANG), elem_id="eval-math")
                self.math = add(math, "eval_math")
                known = gr.Textbox(label=t("eval_known_answer", DEFAULT_LANG), max_lines=1, elem_id="eval-answer")
                self.known = add(known, "eval_known_answer")
        with gr.Row():
            runs = gr.Number(
                value=5, minimum=1, maximum=MAX_RUNS, precision=0,
                label=t("eval_runs", DEFAULT_LANG), elem_id="eval-runs",
            )  # fmt: skip
            self.runs = add(runs, "eval_runs")
            concurrency = gr.Number(
                value=2, minimum=1, maximum=MAX_CONCURRENCY, precision=0,
                label=t("eval_concurrency", DEFAULT_LANG), elem_id="eval-concurrency",
            )  # fmt: skip
            self.concurrency = add(concurrency, "eval_concurrency")
            max_tokens = gr.Number(
                value=0, minimum=0, precision=0,
                label=t("max_tokens", DEFAULT_LANG), elem_id="eval-max-tokens",
            )  # fmt: skip
            self.max_tokens = add(max_tokens, "max_tokens")
        with gr.Row():
            run = gr.Button(t("eval_run", DEFAULT_LANG), variant="primary", elem_id="eval-run")
            self.run = add(run, "eval_run", "value")
            self.stop = add(gr.Button(t("stop", DEFAULT_LANG), elem_id="eval-stop"), "stop", "value")

    def _build_results(self) -> None:
        add = self.page.labels.add
        self.progress = gr.Markdown(elem_id="eval-progress")
        self.table = self.page.labels.add_update(
            gr.Dataframe(headers=summary_headers(DEFAULT_LANG), interactive=False, wrap=True, elem_id="eval-summary"),
            # Gradio 6.31 takes new headers only with a value: a switch empties a finished summary
            # (a running evaluation's next update fills it again, in the new language).
            lambda language: gr.update(value=pd.DataFrame(columns=summary_headers(language))),
        )
        with gr.Row():
            ttft = gr.ScatterPlot(
                x="seq", y="ttft_ms", color="question", x_title="#", y_title="ms",
                label=t("eval_ttft_plot", DEFAULT_LANG), elem_id="eval-ttft-plot",
            )  # fmt: skip
            self.ttft_plot = add(ttft, "eval_ttft_plot")
            latency = gr.ScatterPlot(
                x="seq", y="latency_s", color="question", x_title="#", y_title="s",
                label=t("eval_latency_plot", DEFAULT_LANG), elem_id="eval-latency-plot",
            )  # fmt: skip
            self.latency_plot = add(latency, "eval_latency_plot")
        tps = gr.BarPlot(
            x="run", y="tokens_per_s", color="question", x_title="", y_title="tokens/s", sort="x",
            x_label_angle=-45, label=t("eval_tps_plot", DEFAULT_LANG), elem_id="eval-tps-plot",
        )  # fmt: skip
        self.tps_plot = add(tps, "eval_tps_plot")
        download = gr.File(label=t("eval_csv", DEFAULT_LANG), interactive=False, elem_id="eval-csv")
        self.download = add(download, "eval_csv")

    def wire(self) -> None:
        self.page.blocks.load(self.on_load, None, [self.tab], **PRIVATE)
        inputs = [self.builtin, self.prompt, self.math, self.known, self.runs, self.concurrency, self.max_tokens]
        outputs = [self.progress, self.table, self.ttft_plot, self.latency_plot, self.tps_plot, self.download]
        running = self.run.click(
            self.on_run, [*inputs, self.page.lang], outputs, concurrency_limit=None, show_progress="hidden", **PRIVATE
        )
        self.stop.click(None, cancels=[running], **PRIVATE)

    async def on_load(self, request: gr.Request) -> Any:
        return gr.update(visible=(await self.page.identity_of(request)).is_admin)

    async def on_run(
        self, builtin: bool, prompt: str, math: bool, known: str, runs: float | None, concurrency: float | None,
        max_tokens: float | None, language: Lang, request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        who = await self.page.identity_of(request)
        with shown(language):
            require_admin(who)
            sampling = Sampling(max_tokens=int(max_tokens or 0) or None)
        questions, n, k = questions_of(builtin, prompt, math, known, runs, concurrency, language)
        total = len(questions) * n
        ended: list[RunResult] = []  # in the order the runs end
        client: Backend = self.page.service.client
        job = asyncio.create_task(
            run_evaluation(client, questions, runs=n, concurrency=k, sampling=sampling, on_run=ended.append)
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
                raise refusal(exc.text(language), language) from exc
        finally:
            job.cancel()  # Stop pressed, or the page gone: the runs still going end with it
        progress, *rest = view(ended, questions, total, language)
        yield (f"{t('done', language)} {progress}", *rest, csv_file(results, questions))
