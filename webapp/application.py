"""`create_app(settings)`: the one place that wires store, engine, client, service, API and UI."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from webapp.api import conversations_router, health_router, install_error_handlers
from webapp.chat import ChatService
from webapp.client import ModelClient
from webapp.engine import Engine
from webapp.owner import OwnerMiddleware, load_secret
from webapp.settings import Settings
from webapp.status import StatusMonitor
from webapp.store import Store, create_db_engine

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# Offline-safe: no version check, telemetry or hub calls from Gradio and its client.
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def client_model_name(settings: Settings) -> str | None:
    """The model name to ask for; None lets the client discover it.

    A launched engine serves SERVED_MODEL_NAME. An external one was started by
    someone else (the source article's serves `deepseek-ai/...`), so its name is
    discovered from `/v1/models` unless SERVED_MODEL_NAME was set explicitly.
    """
    if not settings.external_engine or "served_model_name" in settings.model_fields_set:
        return settings.served_model_name
    return None


def create_app(settings: Settings) -> FastAPI:
    """The whole web app for these settings; the engine starts with the app's lifespan."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    import gradio as gr  # after the offline environment is set

    from webapp.ui import build_ui

    secret = load_secret(settings.secret_key, settings.data_dir / "secret.key")
    store = Store(create_db_engine(settings.resolved_database_url))
    engine = Engine(settings)
    client = ModelClient(
        engine.base_url, api_key=engine.api_key, model=client_model_name(settings), timeout=settings.request_timeout
    )
    service = ChatService(engine, client, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store.prepare)
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()
            await client.aclose()
            store.close()

    app = FastAPI(title="DeepSeek-R1 chat", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.chat = service
    install_error_handlers(app)
    monitor = StatusMonitor(engine, store)
    app.include_router(health_router(engine, monitor, service.metrics))
    app.include_router(conversations_router(service))
    blocks = build_ui(service, secret, monitor)
    blocks.queue(default_concurrency_limit=None)
    gr.mount_gradio_app(app, blocks, path="/", footer_links=[], css_paths=[STATIC_DIR / "style.css"])
    app.add_middleware(OwnerMiddleware, secret=secret)
    return app
