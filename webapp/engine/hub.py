"""Where a hub model comes from and where its copy lands: the hub, the local cache, what to fetch.

The hub is Hugging Face (or the mirror in HF_ENDPOINT) or, with VLLM_USE_MODELSCOPE, ModelScope.
Everything here reads the environment when asked, and none of it downloads.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from webapp.errors import LaunchRefused

Source = Literal["huggingface", "modelscope"]
# Files vLLM reads besides the weights: configs, tokenizers, chat templates, custom model code.
_SUPPORT_SUFFIXES = (".json", ".txt", ".model", ".py", ".jinja", ".tiktoken")
MODELSCOPE_DONE = ".webapp-download.json"  # ModelScope has no cache index: this file says the copy is whole


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
        return directory if (directory / MODELSCOPE_DONE).is_file() else None
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
