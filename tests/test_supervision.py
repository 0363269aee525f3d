"""Supervision: a launched engine that dies is restarted, and chats work again after.

The engine killed here is this module's own, not the session's `live_app`: the tests after
these find theirs untouched.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import LiveApp, launch_app
from webapp.engine.tiny_model import SCRIPT_ANSWER

RECOVERY_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def own_app(models_dir: Path, vllm_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app launching a vLLM server of its own on the tiny scripted model, for this module to kill."""
    with launch_app(models_dir / "scripted", tmp_path_factory.mktemp("supervised")) as app:
        yield app


def test_a_killed_engine_is_restarted_and_the_next_chat_works(own_app: LiveApp) -> None:
    pid = own_app.engine.pid
    assert pid is not None
    restarts_before = own_app.engine.restarts
    os.killpg(pid, signal.SIGKILL)  # what the OOM killer does
    with httpx.Client(base_url=own_app.url, timeout=30) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            engine = http.get("/api/status").json()["engine"]
            if engine["state"] != "ready":
                break
            time.sleep(0.2)
        assert engine["state"] in ("error", "starting")
        assert http.get("/readyz").status_code == 503
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline and http.get("/readyz").status_code != 200:
            time.sleep(0.5)
        engine = http.get("/api/status").json()["engine"]
        assert engine["state"] == "ready", engine
        assert engine["restarts"] == restarts_before + 1
        assert "exited with code" in engine["last_exit"]
        assert own_app.engine.pid not in (None, pid)
        conversation = http.post("/api/conversations").json()["id"]
        reply = http.post(f"/api/conversations/{conversation}/messages", json={"content": "back?"})
        events = [json.loads(line[6:]) for line in reply.text.splitlines() if line.startswith("data: ")]
        assert events[-1]["type"] == "done"
        assert events[-1]["message"]["state"] == "complete"
        assert events[-1]["message"]["content"] == SCRIPT_ANSWER
