"""Start the chat app: `python app.py [--port 7860] [--model PATH] [--demo]`.

Every flag overrides the environment variable of the same setting (see README).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError

from webapp.application import create_app
from webapp.ops import tunnel
from webapp.settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="DeepSeek-R1-Distill-Qwen-1.5B chat app")
    parser.add_argument("--host", help="interface to listen on (APP_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (APP_PORT, default 7860)")
    parser.add_argument("--model", help="checkpoint directory or Hugging Face id (MODEL)")
    parser.add_argument("--served-model-name", help="name the model is served under (SERVED_MODEL_NAME)")
    parser.add_argument("--quantization", help="vLLM quantization, empty to detect (QUANTIZATION)")
    parser.add_argument("--dtype", help="auto, float16, bfloat16 or float32 (DTYPE)")
    parser.add_argument("--max-model-len", type=int, help="context length in tokens (MAX_MODEL_LEN)")
    parser.add_argument("--gpu-memory-utilization", type=float, help="share of GPU memory (GPU_MEMORY_UTILIZATION)")
    parser.add_argument("--enforce-eager", action="store_true", default=None, help="no CUDA graphs (ENFORCE_EAGER)")
    parser.add_argument("--engine-port", type=int, help="port of the launched vLLM server (ENGINE_PORT)")
    parser.add_argument("--vllm-base-url", help="use this server and launch none (VLLM_BASE_URL)")
    parser.add_argument("--vllm-log-file", type=Path, help="engine log file (VLLM_LOG_FILE)")
    parser.add_argument("--database-url", help="history database (DATABASE_URL)")
    parser.add_argument("--data-dir", type=Path, help="directory for app data (DATA_DIR)")
    parser.add_argument(
        "--share",
        action="store_true",
        default=None,
        help="also open a public link through Gradio's share tunnel; needs internet and accounts (SHARE)",
    )
    parser.add_argument(
        "--allow-anonymous",
        action="store_true",
        default=None,
        help="let --share run without accounts: anyone with the link may chat (ALLOW_ANONYMOUS)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve a tiny scripted model built locally: no GPU, weights or internet needed",
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    overrides: dict[str, Any] = {
        name: value for name, value in vars(args).items() if value is not None and name != "demo"
    }
    settings = Settings(**overrides)
    if args.demo:
        from webapp.engine.tiny_model import build

        model_dir = settings.data_dir / "demo-model"
        if not (model_dir / "config.json").is_file():
            build(model_dir, "scripted")
        demo = {"model": str(model_dir), "quantization": None, "enforce_eager": True, "max_model_len": 4096}
        settings = Settings(**{**overrides, **demo})
    return settings


def configure_logging(level: str) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level.upper())
    # The HTTP clients log each request at INFO: a "POST .../chat/completions" line per turn that
    # says nothing the access log does not (and costs a write per turn). Shown again under DEBUG.
    quiet = logging.NOTSET if logging.getLogger().level <= logging.DEBUG else logging.WARNING
    for chatty in ("httpx", "httpx2"):
        logging.getLogger(chatty).setLevel(quiet)


def main(argv: list[str] | None = None) -> None:
    try:
        settings = settings_from(parse_args(argv))
        if settings.share:
            tunnel.check_reachable()  # offline: stop now, saying what to do, instead of hanging
    except ValidationError as exc:
        raise SystemExit("Invalid settings:\n" + "\n".join(f"- {e['msg']}" for e in exc.errors())) from exc
    except tunnel.ShareUnavailable as exc:
        raise SystemExit(str(exc)) from exc
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), **server_options(settings))


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the app."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        # A line per request, the page's own polling included: a formatted write per request
        # (3 % of the app's CPU in a burst of short chats), worth it only when someone reads it.
        "access_log": settings.access_log or settings.log_level == "debug",
        # A Gradio client heartbeat can otherwise hold shutdown for many seconds.
        "timeout_graceful_shutdown": 3,
    }


if __name__ == "__main__":
    main()
