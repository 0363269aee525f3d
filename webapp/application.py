"""`create_app(settings)`: the one place that wires store, engine, client, service, API and UI."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from webapp.auth.accounts import Accounts
from webapp.auth.authenticator import Authenticator, AuthMiddleware
from webapp.auth.gate import Gate, HostPolicy, is_loopback
from webapp.auth.owner import load_secret
from webapp.auth.passwords import UserSpec, parse_users
from webapp.chat.service import ChatService
from webapp.db.database import Database
from webapp.db.store import Store
from webapp.engine.supervisor import Engine
from webapp.limits import Admission, RateLimiter, parse_rate
from webapp.llm.client import ChatBackend, ModelClient
from webapp.llm.endpoints import EndpointPool
from webapp.ops import tunnel
from webapp.ops.status import StatusMonitor
from webapp.settings import Settings
from webapp.web.accounts import admin_router, tokens_router
from webapp.web.conversations import conversations_router
from webapp.web.feedback import feedback_router
from webapp.web.health import health_router
from webapp.web.histories import IMPORT_PATH, histories_router
from webapp.web.http_errors import install_error_handlers
from webapp.web.openai_api import openai_router
from webapp.web.openai_edge import OpenAIEdge
from webapp.web.shares import share_router
from webapp.web.signin import sign_in_router
from webapp.web.temporary import temporary_router
from webapp.web.usage import usage_router
from webapp.web.versions import versions_router

log = logging.getLogger(__name__)
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

    from webapp.ui.live import STATIC_PATH, page_head
    from webapp.ui.page import build_ui

    secret = load_secret(settings.secret_key, settings.data_dir / "secret.key")
    configured_users = users_from(settings)  # a broken users file stops the app here, saying which line
    database = Database.at(settings.resolved_database_url)
    store = Store(database)
    accounts = Accounts(database, session_ttl=settings.session_ttl)
    login_rate = parse_rate(settings.login_rate)
    auth = Authenticator(
        accounts, secret, required=settings.accounts, login_limiter=RateLimiter(login_rate) if login_rate else None
    )
    hosts = HostPolicy.from_setting(settings.allowed_hosts, bind_host=settings.host)
    engine = Engine(settings)
    client = model_backend(settings, engine)
    service = chat_service(settings, engine, client, store)
    warn_if_open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store.prepare)
        await asyncio.to_thread(accounts.sync, configured_users)
        await engine.start()
        if isinstance(client, EndpointPool):
            client.start()
        close_tunnel = await open_share_link(settings, hosts) if settings.share else None
        settle_heap()
        try:
            yield
        finally:
            if close_tunnel is not None:
                close_tunnel()
            await engine.stop()
            await client.aclose()
            store.close()

    app = FastAPI(title="DeepSeek-R1 chat", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.chat = service
    install_error_handlers(app)
    monitor = StatusMonitor(engine, store, pool=client if isinstance(client, EndpointPool) else None)
    for router in (
        health_router(engine, monitor, service.metrics),
        conversations_router(service),
        versions_router(service),
        histories_router(service),
        share_router(service),
        sign_in_router(auth),
        tokens_router(auth),
        admin_router(auth, engine),
        usage_router(service, accounts),
        temporary_router(service),
        feedback_router(service, accounts),
        openai_router(service, accounts=settings.accounts, started=time.time()),
    ):
        app.include_router(router)
    blocks = build_ui(service, auth, monitor)
    blocks.queue(default_concurrency_limit=None)
    # Before the page's mount at "/", which would take these paths: the page's own scripts.
    app.mount(f"/{STATIC_PATH}", StaticFiles(directory=STATIC_DIR), name="static")
    gr.mount_gradio_app(app, blocks, path="/", footer_links=[], css_paths=[STATIC_DIR / "style.css"], head=page_head())
    app.add_middleware(AuthMiddleware, authenticator=auth)
    # Added last, so outermost: a request refused here reaches neither authentication nor a route.
    app.add_middleware(
        Gate,
        hosts=hosts,
        trusted_origins=[o for o in settings.trusted_origins.split(",") if o.strip()],
        max_body_bytes=settings.max_body_bytes,
        larger_bodies={IMPORT_PATH: (settings.import_max_bytes, "IMPORT_MAX_BYTES")},
    )
    app.add_middleware(OpenAIEdge, accounts=settings.accounts)  # /v1's errors in OpenAI's shape, Gate's too
    return app


def model_backend(settings: Settings, engine: Engine) -> ChatBackend:
    """The client of the launched engine or of VLLM_BASE_URL; several URLs make a pool with failover."""
    model, timeout = client_model_name(settings), settings.request_timeout
    if len(settings.vllm_base_urls) > 1:
        return EndpointPool(settings.vllm_base_urls, api_key=engine.api_key, model=model, timeout=timeout)
    return ModelClient(engine.base_url, api_key=engine.api_key, model=model, timeout=timeout)


def chat_service(settings: Settings, engine: Engine, client: ChatBackend, store: Store) -> ChatService:
    """The chat service with the limits the settings ask for."""
    admission = Admission(parse_rate(settings.chat_rate_per_user), parse_rate(settings.chat_rate_per_ip))
    return ChatService(
        engine,
        client,
        store,
        admission=admission,
        max_message_chars=settings.max_message_chars,
        new_conversations=Admission(
            parse_rate(settings.conversation_rate),
            parse_rate(settings.conversation_rate_per_ip),
            acts="new conversations",
            verb="start",
        ),
        max_conversations=settings.max_conversations,
        daily_tokens=settings.daily_tokens_per_user,
    )


def warn_if_open(settings: Settings) -> None:
    if not settings.accounts and not is_loopback_host(settings.host):
        log.warning(
            "listening on %s without accounts: anyone who can reach it may chat. "
            "Set ADMIN_PASSWORD or USERS_FILE to require signing in.",
            settings.host,
        )


def settle_heap() -> None:
    """Exempt what startup built from garbage collection: a full collection then walks only what
    came since, not the millions of long-lived objects Gradio, FastAPI and pydantic leave (a walk
    that holds the GIL while every stream waits)."""
    gc.collect()
    gc.freeze()


async def open_share_link(settings: Settings, hosts: HostPolicy) -> Callable[[], None] | None:
    """Open the public link (`--share`); the app keeps serving locally if the tunnel fails.

    The tunnel's host name joins those the app answers to. Its visitors arrive from the local
    tunnel client, so from loopback, but under that name: never "this machine", never admin.
    """
    try:
        url, close = await asyncio.to_thread(tunnel.open_link, settings.port)
    except Exception as exc:  # the tunnel is a convenience: its failure must not stop the app
        log.error("the public share link could not be opened: %s. %s", exc, tunnel.ALTERNATIVES)
        return None
    hosts.allow(urlsplit(url).hostname or "")
    log.warning("public link: %s (people must sign in: %s)", url, "yes" if settings.accounts else "NO")
    print(f"* Public link: {url}", flush=True)
    return close


def users_from(settings: Settings) -> list[UserSpec]:
    """The accounts named by configuration: the users file, then the admin from ADMIN_PASSWORD."""
    users: list[UserSpec] = []
    if settings.users_file is not None:
        try:
            users = parse_users(settings.users_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SystemExit(f"USERS_FILE {settings.users_file}: {exc}") from exc
    if settings.admin_password is not None:
        users = [u for u in users if u.name != settings.admin_user]
        users.append(UserSpec(settings.admin_user, settings.admin_password, is_admin=True))
    return users


def is_loopback_host(host: str) -> bool:
    return host == "localhost" or is_loopback(host)
