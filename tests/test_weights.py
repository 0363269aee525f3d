"""Downloading a hub model's weights: from a hub on loopback, into a cache in a temporary HF_HOME."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeHub, FakeRepo, serve_hub
from tests.helpers import until
from webapp.engine import preflight, weights
from webapp.engine.download_progress import Progress
from webapp.engine.hub import Plan, RemoteFile, hub_cache, local_copy, wanted
from webapp.errors import EngineNotReady, LaunchRefused
from webapp.ops.report import Download
from webapp.ui.status_view import download_markdown, human_bytes, time_left

REPO = "tiny/scripted"
MiB = 1 << 20


@pytest.fixture(scope="module")
def model_files(models_dir: Path) -> dict[str, bytes]:
    """The tiny scripted checkpoint's files: what vLLM needs from the repo."""
    return {path.name: path.read_bytes() for path in (models_dir / "scripted").iterdir()}


@pytest.fixture
def hub(model_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A hub serving the tiny model (with files vLLM does not need beside it), HF_ENDPOINT and HF_HOME set."""
    extras = {"README.md": b"# tiny\n", ".gitattributes": b"*.safetensors filter=lfs\n",
              "pytorch_model.bin": b"\0" * 4096, "onnx/model.onnx": b"\0" * 2048}  # fmt: skip
    fake = FakeHub({
        REPO: FakeRepo(model_files | extras),
        "tiny/gated": FakeRepo(dict(model_files), gated=True),
    })  # fmt: skip
    with serve_hub(fake):
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        for name in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "VLLM_USE_MODELSCOPE"):
            monkeypatch.delenv(name, raising=False)
        yield fake


async def fetch(repo: str = REPO, progress: Progress | None = None) -> Path:
    progress = progress or Progress(repo)
    return await weights.fetch(repo, progress, log_path=Path(os.environ["HF_HOME"]) / "engine.log")


def test_only_the_files_vllm_reads_are_chosen() -> None:
    repo = ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json", "model.gguf",
            "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "merges.txt", "vocab.json",
            "generation_config.json", "chat_template.jinja", "modeling_custom.py", "README.md", ".gitattributes",
            "figures/benchmark.png", "onnx/model.onnx", "original/consolidated.pth"]  # fmt: skip
    assert wanted(repo) == sorted(
        ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
         "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "merges.txt",
         "vocab.json", "generation_config.json", "chat_template.jinja", "modeling_custom.py"]
    )  # fmt: skip
    # Without safetensors, the PyTorch weights are the ones to fetch.
    assert wanted(["config.json", "pytorch_model.bin", "README.md"]) == ["config.json", "pytorch_model.bin"]


async def test_a_download_lands_in_the_cache_with_progress_to_100(
    hub: FakeHub, model_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    progress = Progress(REPO)
    path = await fetch(progress=progress)
    commit = hub.repos[REPO].commit
    assert path == hub_cache() / "models--tiny--scripted" / "snapshots" / commit
    assert {file.name: file.read_bytes() for file in path.iterdir()} == model_files  # no README, .bin or onnx/
    report = progress.report()
    assert report["finished"] and report["percent"] == 100
    assert report["files_done"] == report["files_total"] == len(model_files)
    assert report["bytes_done"] == report["bytes_total"] == sum(map(len, model_files.values()))
    assert download_markdown(Download(**report), "en") == f"Downloaded ({human_bytes(report['bytes_total'])}, 5 files)"
    # The next start finds it whole without the hub, even offline.
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert local_copy(REPO) == path
    preflight.check_downloadable(REPO)
    assert hub.requests == []


@pytest.fixture
def big(hub: FakeHub) -> bytes:
    """Weights over huggingface_hub's 10 MiB write chunk (repo `tiny/big`): part of them reach the disk early."""
    data = os.urandom(11 * MiB)
    hub.repos["tiny/big"] = FakeRepo({"config.json": b"{}", "model.safetensors": data})
    hub.cut_after = 10 * MiB + MiB // 2
    return data


async def test_bytes_of_a_file_still_downloading_count(hub: FakeHub, big: bytes) -> None:
    hub.hold = "model.safetensors"
    progress = Progress("tiny/big")
    task = asyncio.create_task(fetch("tiny/big", progress))
    report = await until(progress.report, lambda r: r["bytes_done"] >= 10 * MiB, within=10)
    assert report["current_file"] == "model.safetensors"
    assert 80 < report["percent"] < 100
    assert report["files_done"] == 1 and report["files_total"] == 2
    hub.release.set()
    path = await task
    assert (path / "model.safetensors").read_bytes() == big
    assert progress.report()["percent"] == 100


def test_speed_and_time_left_come_from_the_bytes_written_over_time(tmp_path: Path) -> None:
    now = [100.0]
    plan = Plan(REPO, "huggingface", "c" * 40, tmp_path, (RemoteFile("model.safetensors", 100_000_000, "b1"),))
    progress = Progress(REPO, clock=lambda: now[0])
    progress.plan = plan
    (tmp_path / "blobs").mkdir()
    partial = tmp_path / "blobs" / "b1.0a1b2c3d.incomplete"
    partial.touch()
    assert progress.report()["speed"] is None  # no time has passed yet
    now[0] += 2
    os.truncate(partial, 20_000_000)
    report = progress.report()
    assert report["speed"] == pytest.approx(10_000_000)
    assert report["eta"] == pytest.approx(8)
    assert report["percent"] == pytest.approx(20)
    assert report["current_file"] == "model.safetensors"
    assert (
        download_markdown(Download(**report), "en")
        == "Downloading weights: 20% (20 MB of 100 MB, 10 MB/s, about 8 s left)"
    )
    assert download_markdown(Download(**report), "zh") == "正在下载模型权重：20%（20 MB / 100 MB，10 MB/s，约剩 8 秒）"
    partial.rename(tmp_path / "blobs" / "b1")
    assert progress.report()["files_done"] == 1


def test_sizes_and_times_read_as_people_say_them() -> None:
    assert [human_bytes(n) for n in (512, 836_000, 9_999_999, 700e6, 1.6e9)] == [
        "512 B",
        "836 kB",
        "10 MB",
        "700 MB",
        "1.6 GB",
    ]
    assert time_left(70, "en") == "about 1 min left"
    assert time_left(3 * 3600 + 600, "zh") == "约剩 3 小时 10 分钟"


async def test_a_connection_cut_midway_is_resumed_in_the_same_attempt(hub: FakeHub, big: bytes) -> None:
    hub.drop = {"model.safetensors"}
    path = await fetch("tiny/big")
    # Cut after 10.5 MiB: the 10 MiB written are kept, and only the rest is asked for again.
    assert hub.fetched("model.safetensors") == [0, 10 * MiB]
    assert (path / "model.safetensors").read_bytes() == big


async def test_an_outage_fails_clearly_and_the_next_attempt_fetches_only_what_is_missing(
    hub: FakeHub, model_files: dict[str, bytes]
) -> None:
    hub.drop, hub.down_after_drop = {"model.safetensors"}, True  # cut off, and then the CDN answers 503
    progress = Progress(REPO)
    with pytest.raises(EngineNotReady, match="answered 503 while the weights of tiny/scripted") as err:
        await fetch(progress=progress)
    assert err.value.hint and "files already downloaded are kept" in err.value.hint
    assert progress.report()["error"] == err.value.message
    assert download_markdown(Download(**progress.report()), "en").startswith("The download stopped at ")
    assert local_copy(REPO) is None
    assert not list(hub_cache().rglob("*.incomplete"))
    hub.cdn_down = False
    hub.bodies.clear()
    path = await fetch()
    assert hub.bodies == [("model.safetensors", 0)]  # the other files were kept
    assert {file.name: file.read_bytes() for file in path.iterdir()} == model_files


async def test_what_a_killed_download_left_is_cleared_before_the_next(hub: FakeHub) -> None:
    blobs = hub_cache() / "models--tiny--scripted" / "blobs"
    blobs.mkdir(parents=True)
    sha = hub.repos[REPO].sha256("model.safetensors")
    (blobs / f"{sha}.deadbeef.incomplete").write_bytes(b"\0" * 1000)
    await fetch()
    assert not list(blobs.glob("*.incomplete"))


@pytest.mark.parametrize(
    ("repo", "message", "hint"),
    [
        ("tiny/missing", "The model tiny/missing was not found on 127.0.0.1", "Check MODEL"),
        ("tiny/gated", "tiny/gated is a gated model", "HF_TOKEN"),
    ],
)
async def test_a_missing_or_gated_model_is_refused_with_the_fix(
    hub: FakeHub, repo: str, message: str, hint: str
) -> None:
    with pytest.raises(LaunchRefused, match=message) as err:
        await fetch(repo)
    assert err.value.hint and hint in err.value.hint


@pytest.mark.parametrize(
    ("error", "message", "hint"),
    [
        (ConnectionResetError("Connection reset by peer"), "was cut off: Connection reset by peer", "HF_ENDPOINT"),
        (TimeoutError("timed out"), "was cut off", "files already downloaded are kept"),
        (OSError(errno.ENOSPC, "No space left on device"), "The disk is full", "HF_HOME on a larger volume"),
        (RuntimeError("boom"), "failed: RuntimeError: boom", "See the engine log"),
    ],
)
def test_failures_say_what_to_do(error: Exception, message: str, hint: str) -> None:
    explained = weights.explain(error, REPO)
    assert isinstance(explained, EngineNotReady)
    assert message in explained.message
    assert explained.hint and hint in explained.hint
