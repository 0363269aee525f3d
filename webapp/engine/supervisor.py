"""The model engine: a vLLM server the app launches and watches, or an external one.

`Engine` knows where the server is, whether it is ready, and why not. A launched
engine runs in its own process group with its output appended to the log file;
the app serves its pages while it loads and never waits on it. A hub model that
is not on this machine yet is downloaded first (`webapp.engine.weights`), and vLLM then
serves the local copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
import shlex
import subprocess
import time
from dataclasses import dataclass

import httpx
import openai

from webapp.engine import hub, preflight, weights
from webapp.engine import logfile as engine_log
from webapp.engine.command import ENGINE_HOST, engine_command, engine_environment, health_url
from webapp.engine.download_progress import Progress
from webapp.engine.process_group import stop_process_group
from webapp.errors import AppError, EngineNotReady, LaunchRefused
from webapp.settings import Settings

log = logging.getLogger(__name__)

_POLL_INTERVAL = 0.5
_PROBE_SECONDS = 5.0  # for each readiness probe: a server that does not answer is not ready yet
_FIRST_BACKOFF = 2.0  # seconds before the first restart of a crashed engine; doubles each time
_MAX_BACKOFF = 60.0
_STABLE_AFTER = 300.0


class EngineState(enum.StrEnum):
    DOWNLOADING = "downloading"  # fetching the weights; vLLM is launched after
    STARTING = "starting"
    READY = "ready"
    ERROR = "error"
    STOPPED = "stopped"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """A snapshot of the engine for health checks and the UI."""

    state: EngineState
    ready: bool
    base_url: str
    error: AppError | None = None


def preflight_checks(settings: Settings) -> None:
    """Every mistake visible before launch, in the order a person would fix them."""
    preflight.check_model(settings.model, settings.quantization)
    preflight.check_awq_kernel(settings.model, gpu=preflight.has_nvidia_gpu(), flags=preflight.cpu_flags())
    preflight.check_port_free(ENGINE_HOST, settings.engine_port)
    preflight.check_downloadable(settings.model)


class Engine:
    """Owns the engine's process (when launched), the download of its weights, and its readiness."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.download: Progress | None = None  # the last download of the weights, if any
        self._model = settings.model  # what vLLM serves: MODEL, or the local copy of a hub model
        self._process: subprocess.Popen[bytes] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._error: AppError | None = None
        self._ready = False
        self._stopped = False
        self.restarts = 0
        self.last_exit: str | None = None
        if settings.vllm_base_url:
            self.base_url = settings.vllm_base_urls[0]
            self.api_key = settings.vllm_api_key or "EMPTY"
        else:
            self.base_url = f"http://{ENGINE_HOST}:{settings.engine_port}/v1"
            self.api_key = secrets.token_urlsafe(32)

    @property
    def external(self) -> bool:
        return self.settings.external_engine

    @property
    def stopping(self) -> bool:
        """True once `stop` was called: an exit then is ours, not a crash."""
        return self._stopped

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def status(self) -> EngineStatus:
        if self._error is not None:
            state = EngineState.ERROR
        elif self._stopped:
            state = EngineState.STOPPED
        elif self.external:
            state = EngineState.EXTERNAL
        elif self.download is not None and self.download.active:
            state = EngineState.DOWNLOADING
        else:
            state = EngineState.READY if self._ready else EngineState.STARTING
        return EngineStatus(
            state=state, ready=self._ready and self._error is None, base_url=self.base_url, error=self._error
        )

    def require_ready(self) -> None:
        """Raise a clear error unless a chat can be served now."""
        status = self.status()
        if status.ready:
            return
        if status.error is not None:
            raise EngineNotReady(status.error.message, hint=status.error.hint)
        if status.state is EngineState.STOPPED:
            raise EngineNotReady("The engine has stopped.", code="engine_stopped")
        if status.state is EngineState.DOWNLOADING and self.download is not None:
            percent = self.download.report()["percent"]
            done = f" ({percent:.0f}% done)" if percent is not None else ""
            raise EngineNotReady(
                f"The model's weights are downloading{done}.",
                hint="Chat opens once they are downloaded and loaded.",
                code="engine_downloading",
            )
        raise EngineNotReady("The model is still loading.", hint="Try again in a moment.", code="engine_loading")

    # -- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        """Launch (or find) the engine and watch it until ready, in the background.

        A hub model not on this machine is downloaded first, in the background too.
        """
        self._stopped = False
        if not self.external:
            try:
                preflight_checks(self.settings)
                local = self._local_model()
                if local is not None:
                    self._model = local
                    self._launch()
            except LaunchRefused as exc:
                log.error("engine not launched: %s", exc)
                self._error = exc
                return
            if local is None:
                self.download = Progress(self.settings.model)
                self._watch = asyncio.create_task(self._download_then_supervise(), name="engine-download")
                return
        self._watch = asyncio.create_task(self._supervise(), name="engine-watch")

    def _local_model(self) -> str | None:
        """The directory to serve: MODEL itself, the complete local copy of a hub model, or None (download it)."""
        model = self.settings.model
        if preflight.looks_like_path(model):
            return model
        local = hub.local_copy(model)
        return str(local) if local is not None else None

    async def _download_then_supervise(self) -> None:
        assert self.download is not None
        try:
            local = await weights.fetch(self.settings.model, self.download, log_path=self.settings.vllm_log_file)
            self._model = str(local)
            # What could not be seen before the weights were here (and the port may have been taken meanwhile).
            preflight.check_model(self._model, self.settings.quantization)
            preflight.check_awq_kernel(self._model, gpu=preflight.has_nvidia_gpu(), flags=preflight.cpu_flags())
            preflight.check_port_free(ENGINE_HOST, self.settings.engine_port)
            self._launch()
        except AppError as exc:
            log.error("engine not launched: %s", exc)
            self._error = exc
            return
        await self._supervise()

    async def _supervise(self) -> None:
        """Wait until ready; then, for a launched engine, restart it whenever it dies.

        An engine that fails before it was ever ready is left in its error: that is a
        configuration a person must fix, and restarting it would only hide the reason.
        """
        backoff = _FIRST_BACKOFF
        while not self._stopped:
            await self._watch_until_ready()
            if not self._ready or self.external or self._process is None:
                return
            process = self._process
            ready_at = time.monotonic()
            await asyncio.to_thread(process.wait)  # returns when it dies, or when stop() ends it
            if self.stopping:
                return
            if time.monotonic() - ready_at > _STABLE_AFTER:
                backoff = _FIRST_BACKOFF  # it ran well for a while: this crash is not a crash loop
            code = process.returncode
            self._ready = False
            message, hint = self._exit_reason(code, while_starting=False)
            self.last_exit = message
            self.restarts += 1
            self._fail(f"{message} Restarting it in {backoff:.0f} s.", hint)
            await asyncio.to_thread(stop_process_group, process)  # workers it left behind
            while not self.stopping:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                try:
                    preflight.check_port_free(ENGINE_HOST, self.settings.engine_port)
                    self._launch()
                except LaunchRefused as exc:  # the port is still held: try again later
                    self._fail(f"{exc.message} Trying again in {backoff:.0f} s.", exc.hint)
                    continue
                self._error = None
                log.warning("engine restarted (restart %d)", self.restarts)
                break

    def _launch(self) -> None:
        log_path = self.settings.vllm_log_file
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = engine_command(self.settings, model=self._model)
        with log_path.open("ab") as log_file:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log_file.write(f"\n[webapp {stamp}] launching: {shlex.join(command)}\n".encode())
            log_file.flush()
            # Own process group: one signal stops the API server and its engine core.
            self._process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=engine_environment(
                    self.api_key, gpu=preflight.has_nvidia_gpu(), downloaded=self._model != self.settings.model
                ),
                start_new_session=True,
            )
        log.info("engine launched, pid %s, log %s", self._process.pid, log_path)

    async def _watch_until_ready(self) -> None:
        deadline = time.monotonic() + self.settings.engine_start_timeout
        # Several external endpoints: chats can be served as soon as one answers.
        bases = self.settings.vllm_base_urls or [self.base_url]
        async with httpx.AsyncClient(timeout=_PROBE_SECONDS) as http:
            while not self._stopped:
                if self._process is not None and (code := self._process.poll()) is not None:
                    self._fail(*self._exit_reason(code))
                    return
                answers = [await _answers(http, health_url(base), base, self.api_key) for base in bases]
                if any(answers):
                    self._ready = True
                    self._error = None
                    log.info("engine ready at %s", self.base_url)
                    return
                if not self.external and time.monotonic() > deadline:
                    self._fail(
                        f"The engine was not ready after {self.settings.engine_start_timeout:.0f} s.",
                        "Raise ENGINE_START_TIMEOUT, or check its log for a hang.",
                    )
                    return
                await asyncio.sleep(_POLL_INTERVAL)

    def _exit_reason(self, code: int, *, while_starting: bool = True) -> tuple[str, str]:
        """Why the engine exited, as far as its log tells: a known failure, or its last error line."""
        when = " while starting" if while_starting else ""
        lines = engine_log.read_tail(self.settings.vllm_log_file)
        lines = lines[engine_log.last_start(lines) :]
        known = [d for d in engine_log.diagnose(lines) if d.severity == "error" and d.kind != "engine_dead"]
        if known:
            return f"The engine exited with code {code}{when}: {known[-1].message}", known[-1].hint
        errors = engine_log.last_errors(lines, 1)
        said = f": {errors[-1]}" if errors else "."
        return f"The engine exited with code {code}{when}{said}", f"See {self.settings.vllm_log_file}."

    def _fail(self, message: str, hint: str | None = None) -> None:
        log.error("engine failed: %s", message)
        self._error = EngineNotReady(message, hint=hint)

    async def wait_ready(self, within: float) -> EngineStatus:
        """Wait up to `within` seconds for the engine to be ready or to fail."""
        end = time.monotonic() + within
        while time.monotonic() < end:
            status = self.status()
            if status.ready or status.error is not None or self._watch is None:
                return status
            await asyncio.sleep(0.1)
        return self.status()

    def restart_soon(self) -> None:
        """Restart in the background (the task is held here: an unheld one may be collected midway)."""
        if self._restarting is None or self._restarting.done():
            self._restarting = asyncio.create_task(self.restart(), name="engine-restart")

    async def restart(self) -> None:
        """Stop the engine and start it again (an admin's control); an external one is re-checked."""
        await self.stop()
        self._error = None
        self.restarts += 1
        self.last_exit = "restarted by an admin"
        await self.start()

    async def stop(self) -> None:
        """Stop watching, and stop the engine's whole process group."""
        self._stopped = True
        self._ready = False
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        process, self._process = self._process, None
        if process is not None:
            await asyncio.to_thread(stop_process_group, process)


async def _answers(http: httpx.AsyncClient, url: str, base_url: str, api_key: str) -> bool:
    """Whether the server at `base_url` is ready: vLLM's `/health` says so, or, on a server without
    one, the OpenAI API lists its models to this key."""
    try:
        response = await http.get(url)
    except httpx.HTTPError:
        return False  # not listening yet
    if response.status_code != 404:
        return response.status_code == 200
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=_PROBE_SECONDS, max_retries=0)
    try:
        await sdk.models.list()
    except openai.APIError:
        return False
    finally:
        await sdk.close()
    return True
