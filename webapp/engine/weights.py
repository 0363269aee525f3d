"""Downloading a hub model's weights into the local cache before the engine starts.

The download runs in a child process (`python -m webapp.engine.weights MODEL`, `main` below), so
that stopping the app stops it at once; `fetch`, in the app, starts it and reads its messages: the
plan (the files and their sizes, for `download_progress`), then the local copy or the error, which
`explain` has put as a person should read it. Where the files come from and land is `hub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import glob
import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from webapp.engine.download_progress import Progress
from webapp.engine.hub import (
    MODELSCOPE_DONE,
    Plan,
    RemoteFile,
    hf_endpoint,
    hub_cache,
    modelscope_dir,
    require_source,
    source_host,
    use_modelscope,
    wanted,
)
from webapp.errors import AppError, EngineNotReady, LaunchRefused

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


# -- fetching (in the app) -------------------------------------------------------------


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
        (plan.target / MODELSCOPE_DONE).write_text(json.dumps(plan.to_json()))
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
