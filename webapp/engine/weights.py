"""A hub model's weights, downloaded into the local cache before the engine starts, with progress.

The download runs in a child process (`python -m webapp.engine.weights MODEL`), so that stopping
the app stops it at once. Its progress is measured on the files it writes, so it is right
whichever library writes them: huggingface_hub (Hugging Face or the mirror in HF_ENDPOINT)
or, with VLLM_USE_MODELSCOPE, modelscope.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import glob
import importlib
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from webapp.errors import AppError, EngineNotReady, LaunchRefused

Source = Literal["huggingface", "modelscope"]
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# Files vLLM reads besides the weights: configs, tokenizers, chat templates, custom model code.
_SUPPORT_SUFFIXES = (".json", ".txt", ".model", ".py", ".jinja", ".tiktoken")
_SPEED_WINDOW = 10.0  # seconds of samples the speed is averaged over
_MODELSCOPE_DONE = ".webapp-download.json"  # ModelScope has no cache index: this file says the copy is whole


def use_modelscope() -> bool:
    """True when VLLM_USE_MODELSCOPE asks for ModelScope instead of Hugging Face."""
    return os.environ.get("VLLM_USE_MODELSCOPE", "").strip().lower() in ("1", "true", "yes")


def hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hf_home() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "huggingface"
    return Path(os.environ.get("HF_HOME") or default).expanduser()


def hub_cache() -> Path:
    """The Hugging Face cache, read from the environment now (huggingface_hub reads it once, at import)."""
    return Path(os.environ.get("HF_HUB_CACHE") or hf_home() / "hub").expanduser()


def modelscope_dir(repo: str) -> Path:
    return Path(os.environ.get("MODELSCOPE_CACHE") or hf_home() / "modelscope").expanduser() / repo


def source_host() -> str:
    if use_modelscope():
        return urlsplit(os.environ.get("MODELSCOPE_DOMAIN", "https://www.modelscope.cn")).hostname or "ModelScope"
    return urlsplit(hf_endpoint()).hostname or hf_endpoint()


def wanted(paths: Iterable[str]) -> list[str]:
    """The files of a repo that vLLM reads: configs, tokenizer, and the weights in one format only."""
    top = sorted(path for path in paths if "/" not in path)  # subfolders hold other formats (original/, onnx/)
    safetensors = any(path.endswith(".safetensors") for path in top)
    weights = (".safetensors",) if safetensors else (".bin", ".pt", ".pth")
    keep = []
    for path in top:
        if safetensors and path.endswith((".bin.index.json", ".pt.index.json")):
            continue  # the index of the duplicate weights left out
        if path.endswith(weights + _SUPPORT_SUFFIXES) or path.startswith("tokenizer"):
            keep.append(path)
    return keep


@dataclass(frozen=True, slots=True)
class RemoteFile:
    path: str
    size: int
    blob: str  # its name under blobs/ in the Hugging Face cache (the hub's ETag); "" on ModelScope


@dataclass(frozen=True, slots=True)
class Plan:
    """What one download fetches, and where it lands."""

    repo: str
    source: Source
    revision: str
    target: Path  # Hugging Face: the repo's folder in the cache; ModelScope: the model's directory
    files: tuple[RemoteFile, ...]

    @property
    def total(self) -> int:
        return sum(file.size for file in self.files)

    def on_disk(self, file: RemoteFile) -> tuple[Path, list[Path]]:
        """Where a file is once complete, and where its unfinished copies may be meanwhile."""
        if self.source == "modelscope":
            final = self.target / file.path
            return final, [final.with_name(final.name + ".incomplete"), self.target / "._____temp" / file.path]
        blobs = self.target / "blobs"
        return blobs / file.blob, list(blobs.glob(f"{glob.escape(file.blob)}*.incomplete"))

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "source": self.source,
            "revision": self.revision,
            "target": str(self.target),
            "files": [[file.path, file.size, file.blob] for file in self.files],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        files = tuple(RemoteFile(str(path), int(size), str(blob)) for path, size, blob in data["files"])
        return cls(data["repo"], data["source"], data["revision"], Path(data["target"]), files)


def local_copy(repo: str) -> Path | None:
    """The complete local copy of a hub model, found without asking the hub; None if it is not (all) there."""
    if use_modelscope():
        directory = modelscope_dir(repo)
        return directory if (directory / _MODELSCOPE_DONE).is_file() else None
    storage = hub_cache() / ("models--" + repo.replace("/", "--"))
    try:
        commit = (storage / "refs" / "main").read_text().strip()
    except OSError:
        return None
    snapshot = storage / "snapshots" / commit
    if not (snapshot / "config.json").is_file():
        return None
    try:
        from huggingface_hub import get_cached_repo_tree
        from huggingface_hub.errors import CachedRepoTreeNotFoundError
    except ImportError:  # an older huggingface_hub keeps no listing: trust the snapshot, as vLLM would
        return snapshot
    try:
        listing = [file.path for file in get_cached_repo_tree(repo, revision=commit, cache_dir=hub_cache())]
    except CachedRepoTreeNotFoundError:
        # Filled by another tool (`hf download`, vLLM itself): whole if it has weights.
        return snapshot if any(snapshot.glob("*.safetensors")) or any(snapshot.glob("*.bin")) else None
    return snapshot if all((snapshot / path).is_file() for path in wanted(listing)) else None


def require_source() -> None:
    """Refuse ModelScope when its package is missing (it is optional: not in requirements.txt)."""
    if use_modelscope() and importlib.util.find_spec("modelscope") is None:
        raise LaunchRefused(
            "VLLM_USE_MODELSCOPE is set, but the modelscope package is not installed, so the model "
            "cannot be downloaded from ModelScope.",
            hint="Install it (pip install modelscope), or unset VLLM_USE_MODELSCOPE and set HF_ENDPOINT "
            "to a Hugging Face mirror you can reach (e.g. https://hf-mirror.com).",
        )


# -- progress (in the app) -----------------------------------------------------------


class Progress:
    """How far a download has got, measured on disk each time it is asked."""

    def __init__(self, repo: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.repo = repo
        self.plan: Plan | None = None  # None until the hub has listed the files
        self.error: str | None = None
        self.finished = False
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    @property
    def active(self) -> bool:
        return not self.finished and self.error is None

    def report(self) -> dict[str, Any]:
        """Files and bytes done and in all, percent, speed (bytes/s), ETA (s), the file being fetched."""
        plan = self.plan
        files_done, bytes_done, current = self._measure() if plan else (0, 0, None)
        total = plan.total if plan else None
        speed = self._speed(bytes_done) if self.active and plan else None
        left = (total or 0) - bytes_done
        return {
            "repo": self.repo,
            "source": plan.source if plan else ("modelscope" if use_modelscope() else "huggingface"),
            "files_done": files_done,
            "files_total": len(plan.files) if plan else None,
            "bytes_done": bytes_done,
            "bytes_total": total,
            "percent": 100.0 if self.finished else (100.0 * bytes_done / total if total else None),
            "speed": speed,
            "eta": left / speed if speed else None,
            "current_file": current if self.active else None,
            "finished": self.finished,
            "error": self.error,
        }

    def _measure(self) -> tuple[int, int, str | None]:
        assert self.plan is not None
        files_done = bytes_done = 0
        current: tuple[int, str] | None = None
        for file in self.plan.files:
            final, partials = self.plan.on_disk(file)
            if final.is_file():
                files_done += 1
                bytes_done += file.size
                continue
            sizes = [_size(path) for path in partials]
            if any(size is not None for size in sizes):
                got = min(file.size, max(size or 0 for size in sizes))
                bytes_done += got
                if current is None or file.size - got > current[0]:
                    current = (file.size - got, file.path)  # the one with the most left to fetch
        return files_done, bytes_done, current[1] if current else None

    def _speed(self, bytes_done: int) -> float | None:
        now = self._clock()
        self._samples.append((now, bytes_done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= _SPEED_WINDOW:
            self._samples.popleft()
        first_time, first_bytes = self._samples[0]
        if now - first_time < 1.0:
            return None
        return max(0.0, (bytes_done - first_bytes) / (now - first_time))


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


async def fetch(repo: str, progress: Progress, *, log_path: Path) -> Path:
    """Download `repo` in a child process, keeping `progress` informed; the local copy once complete."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_DISABLE_PROGRESS_BARS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    with log_path.open("ab") as log_file:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        where = "ModelScope" if use_modelscope() else hf_endpoint()
        log_file.write(f"\n[webapp {stamp}] downloading weights: {repo} from {where}\n".encode())
        log_file.flush()
        # Own process group, so that stopping the app can end the download and its threads at once.
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "webapp.engine.weights", repo,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=log_file,
            env=env, start_new_session=True,
        )  # fmt: skip
    result: dict[str, Any] = {}
    try:
        assert child.stdout is not None
        async for line in child.stdout:
            message = _message(line)
            if "plan" in message:
                progress.plan = Plan.from_json(message["plan"])
            elif message:
                result = message
        await child.wait()
    finally:
        if child.returncode is None:  # cancelled: the app is stopping or restarting the engine
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            await child.wait()
    if "path" in result:
        progress.finished = True
        return Path(result["path"])
    error = result.get("error") or {
        "message": f"The download of {repo} stopped (exit code {child.returncode}).",
        "hint": f"See {log_path}.",
    }
    kind = LaunchRefused if error.get("refused") else EngineNotReady
    progress.error = error["message"]
    raise kind(error["message"], hint=error.get("hint"))


def _message(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:  # not one of the child's messages: something a library wrote to fd 1 itself
        return {}
    return message if isinstance(message, dict) else {}


# -- the download (in the child process) ------------------------------------------------


def plan_download(repo: str) -> Plan:
    """Ask the hub which files to fetch, with their sizes."""
    if use_modelscope():
        require_source()
        api = importlib.import_module("modelscope.hub.api").HubApi()
        listed = api.get_model_files(repo, recursive=True)
        sizes = {str(f["Path"]): int(f.get("Size") or 0) for f in listed if f.get("Type", "blob") != "tree"}
        files = tuple(RemoteFile(path, sizes[path], "") for path in wanted(sizes))
        plan = Plan(repo, "modelscope", "master", modelscope_dir(repo), files)
    else:
        from huggingface_hub import HfApi

        info = HfApi(endpoint=hf_endpoint()).model_info(repo, files_metadata=True)
        siblings = {sibling.rfilename: sibling for sibling in info.siblings or []}
        files = tuple(_remote_file(siblings[path]) for path in wanted(siblings))
        plan = Plan(repo, "huggingface", str(info.sha), hub_cache() / ("models--" + repo.replace("/", "--")), files)
    if not any(file.path.endswith((".safetensors", ".bin", ".pt", ".pth")) for file in plan.files):
        raise LaunchRefused(
            f"{repo} on {source_host()} has no weights vLLM can load (no .safetensors or .bin files).",
            hint="Set MODEL to a checkpoint in the Hugging Face format.",
        )
    return plan


def _remote_file(sibling: Any) -> RemoteFile:
    # huggingface_hub names a blob by its ETag: the sha256 of an LFS file, the git blob id of others.
    blob = sibling.lfs.sha256 if sibling.lfs else sibling.blob_id
    return RemoteFile(sibling.rfilename, sibling.size or 0, blob or "")


def download(plan: Plan) -> Path:
    """Fetch the plan's files; files already complete are kept, so a new attempt resumes."""
    patterns = [glob.escape(file.path) for file in plan.files]
    if plan.source == "modelscope":
        module = importlib.import_module("modelscope.hub.snapshot_download")
        module.snapshot_download(plan.repo, local_dir=str(plan.target), allow_patterns=patterns)
        (plan.target / _MODELSCOPE_DONE).write_text(json.dumps(plan.to_json()))
        return plan.target
    from huggingface_hub import snapshot_download

    _remove_orphans(plan)
    path = snapshot_download(
        plan.repo, revision=plan.revision, cache_dir=hub_cache(), endpoint=hf_endpoint(), allow_patterns=patterns
    )
    # Asked for by commit, huggingface_hub records no branch: `main` is what `local_copy` looks for.
    ref = plan.target / "refs" / "main"
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(plan.revision)
    return Path(path)


def _remove_orphans(plan: Plan) -> None:
    """Delete what killed downloads left: huggingface_hub never resumes them, and they may be gigabytes."""
    from filelock import FileLock, Timeout

    locks = plan.target.parent / ".locks" / plan.target.name
    for file in plan.files:
        _, partials = plan.on_disk(file)
        if not partials:
            continue
        locks.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Timeout), FileLock(locks / f"{file.blob}.lock", timeout=0.1):
            for partial in partials:  # no one holds the lock: no one is writing these
                partial.unlink(missing_ok=True)


def explain(exc: BaseException, repo: str) -> AppError:
    """A failed download as a person should read it, with the fix."""
    if isinstance(exc, AppError):
        return exc
    host = source_host()
    again = "then restart the engine: the files already downloaded are kept."
    network = "Check the network, or set HF_ENDPOINT to a mirror you can reach (e.g. https://hf-mirror.com); "
    if use_modelscope():
        network = "Check the network; "
    name = type(exc).__name__
    status = getattr(getattr(exc, "response", None), "status_code", None)
    said = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else name
    if name == "GatedRepoError":
        return LaunchRefused(
            f"{repo} is a gated model: {host} serves its files only to accounts that accepted its terms.",
            hint=f"Accept them at {hf_endpoint()}/{repo}, then set HF_TOKEN to an access token of that account.",
        )
    if name == "RepositoryNotFoundError" or status in (401, 404):
        return LaunchRefused(
            f"The model {repo} was not found on {host}.",
            hint="Check MODEL (a hub id like org/name, or a local directory); for a private model, set HF_TOKEN.",
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = modelscope_dir(repo) if use_modelscope() else hub_cache()
        return EngineNotReady(
            f"The disk is full: the weights of {repo} do not fit in {where}.",
            hint="Free space there, or put HF_HOME on a larger volume; " + again,
        )
    if status is not None:
        return EngineNotReady(f"{host} answered {status} while the weights of {repo} were downloading.",
                              hint="The hub may be busy or down. " + network + again)  # fmt: skip
    if _is_network_error(exc):
        return EngineNotReady(f"The download of {repo} from {host} was cut off: {said}", hint=network + again)
    return EngineNotReady(f"The download of {repo} failed: {name}: {said}", hint="See the engine log; " + again)


def _is_network_error(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # huggingface_hub's transport errors (httpx2), its "cannot reach the hub" error, requests' (ModelScope).
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"TransportError", "LocalEntryNotFoundError", "RequestException"})


def main(argv: list[str]) -> int:
    """The child process: plan, then download; one JSON line on stdout for each, or one for the error."""
    out = sys.stdout
    sys.stdout = sys.stderr  # what libraries print goes to the log, not into our messages

    def say(**message: Any) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    repo = argv[0]
    try:
        plan = plan_download(repo)
        say(plan=plan.to_json())
        path = download(plan)
    except Exception as exc:  # every failure becomes one message for a person
        traceback.print_exc()
        error = explain(exc, repo)
        say(error={"message": error.message, "hint": error.hint, "refused": isinstance(error, LaunchRefused)})
        return 1
    say(path=str(path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
