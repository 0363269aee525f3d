"""The one typed settings class: every knob, its default, its environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from webapp.limits import parse_rate

DEFAULT_MODEL = "casperhansen/deepseek-r1-distill-qwen-1.5b-awq"
DEFAULT_SERVED_NAME = "DeepSeek-R1-Distill-Qwen-1.5B"


class Settings(BaseSettings):
    """Configuration read from the environment (and `.env`), overridable by `app.py` flags."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True, frozen=True)

    model: str = Field(
        DEFAULT_MODEL,
        validation_alias="MODEL",
        description="Checkpoint the engine serves: a local directory or a Hugging Face id.",
    )
    served_model_name: str = Field(
        DEFAULT_SERVED_NAME,
        validation_alias="SERVED_MODEL_NAME",
        description="Name the engine serves the model under (what clients ask for).",
    )
    quantization: str | None = Field(
        None,
        validation_alias="QUANTIZATION",
        description=(
            "vLLM quantization method. Empty: detected from the checkpoint, which lets "
            "vLLM pick the fast awq_marlin kernel on Ampere or newer GPUs."
        ),
    )
    dtype: str = Field(
        "auto",
        validation_alias="DTYPE",
        description="Weights/activations dtype: auto, float16 (T4 cards), bfloat16 or float32.",
    )
    max_model_len: int = Field(
        4096,
        ge=128,
        validation_alias="MAX_MODEL_LEN",
        description="Longest prompt plus answer, in tokens.",
    )
    gpu_memory_utilization: float = Field(
        0.9,
        gt=0,
        le=1,
        validation_alias="GPU_MEMORY_UTILIZATION",
        description="Share of GPU memory vLLM may take for weights and KV cache.",
    )
    enforce_eager: bool = Field(
        False,
        validation_alias="ENFORCE_EAGER",
        description="Skip CUDA graphs / torch.compile: less memory and a faster start, slower decode.",
    )
    engine_port: int = Field(
        8000,
        ge=1,
        le=65535,
        validation_alias="ENGINE_PORT",
        description="Port of the launched vLLM server (bound to 127.0.0.1 only).",
    )
    engine_args: str = Field(
        "",
        validation_alias="ENGINE_ARGS",
        description="Extra vLLM arguments, shell-quoted (e.g. `--tensor-parallel-size 2`).",
    )
    engine_start_timeout: float = Field(
        900,
        gt=0,
        validation_alias="ENGINE_START_TIMEOUT",
        description="Seconds the launched engine may take to become ready before it counts as failed.",
    )
    vllm_log_file: Path = Field(
        Path("deepseek_qwen.log"),
        validation_alias="VLLM_LOG_FILE",
        description="File the engine's output is appended to (read by the status viewer).",
    )
    vllm_base_url: str | None = Field(
        None,
        validation_alias="VLLM_BASE_URL",
        description=(
            "Use this OpenAI-compatible server (e.g. `http://host:8000/v1`) and launch none; several, "
            "comma-separated, are used least-loaded first, with failover."
        ),
    )
    vllm_api_key: str | None = Field(
        None,
        validation_alias="VLLM_API_KEY",
        description="API key for the server at VLLM_BASE_URL (a launched engine gets a fresh one).",
    )
    request_timeout: float = Field(
        600,
        gt=0,
        validation_alias="REQUEST_TIMEOUT",
        description="Seconds one model request may take before it is abandoned.",
    )
    data_dir: Path = Field(
        Path("data"),
        validation_alias="DATA_DIR",
        description="Directory for the app's own files (SQLite database, demo model).",
    )
    database_url: str | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL of the history database. Empty: `sqlite:///<DATA_DIR>/chat.db`.",
    )
    secret_key: str | None = Field(
        None,
        validation_alias="SECRET_KEY",
        description="Key that signs browser cookies. Empty: made once and kept in `<DATA_DIR>/secret.key`.",
    )
    host: str = Field(
        "127.0.0.1",
        validation_alias="APP_HOST",
        description="Interface the web app listens on (`0.0.0.0` to be reachable from other machines).",
    )
    port: int = Field(
        7860,
        ge=1,
        le=65535,
        validation_alias="APP_PORT",
        description="Port of the web app (`app.py --port`).",
    )
    admin_user: str = Field(
        "admin",
        validation_alias="ADMIN_USER",
        description="Name of the admin account made from ADMIN_PASSWORD.",
    )
    admin_password: str | None = Field(
        None,
        validation_alias="ADMIN_PASSWORD",
        description="Turns accounts on: an admin with this password exists; everyone else must sign in.",
    )
    users_file: Path | None = Field(
        None,
        validation_alias="USERS_FILE",
        description=(
            "Turns accounts on: one `name:password[:admin]` per line (the password may be a hash "
            "from `python -m webapp.auth.passwords`)."
        ),
    )
    session_ttl: float = Field(
        7 * 86400,
        gt=0,
        validation_alias="SESSION_TTL",
        description="Seconds a sign-in lasts.",
    )
    login_rate: str = Field(
        "10/5minutes",
        validation_alias="LOGIN_RATE",
        description="Sign-in attempts allowed per address, and per user name from one address (`0` for no limit).",
    )
    chat_rate_per_user: str = Field(
        "30/minute",
        validation_alias="CHAT_RATE_PER_USER",
        description="Messages one user (or anonymous browser) may send (`0` for no limit).",
    )
    chat_rate_per_ip: str = Field(
        "60/minute",
        validation_alias="CHAT_RATE_PER_IP",
        description="Messages one network address may send, whoever sends them (`0` for no limit).",
    )
    max_message_chars: int = Field(
        32_000,
        ge=1,
        validation_alias="MAX_MESSAGE_CHARS",
        description="Longest message a user may send, in characters.",
    )
    max_conversations: int = Field(
        10_000,
        ge=1,
        validation_alias="MAX_CONVERSATIONS",
        description="Most conversations one user (or anonymous browser) may keep.",
    )
    conversation_rate: str = Field(
        "60/minute",
        validation_alias="CONVERSATION_RATE",
        description="New conversations one user (or anonymous browser) may start (`0` for no limit).",
    )
    conversation_rate_per_ip: str = Field(
        "120/minute",
        validation_alias="CONVERSATION_RATE_PER_IP",
        description="New conversations one network address may start, whoever starts them (`0` for no limit).",
    )
    daily_tokens_per_user: int | None = Field(
        None,
        ge=0,
        validation_alias="DAILY_TOKENS_PER_USER",
        description=(
            "Tokens (prompt plus answer) one user (or anonymous browser) may spend per UTC day; past it a "
            "message is refused with 429 until midnight UTC. Empty: no quota. An admin may set a user's own."
        ),
    )
    max_body_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        validation_alias="MAX_BODY_BYTES",
        description="Largest request body, in bytes: a bigger one is refused with 413 before it is read.",
    )
    import_max_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024,
        validation_alias="IMPORT_MAX_BYTES",
        description=(
            "Largest file `/api/import` takes, in bytes (a ChatGPT export can be large); "
            "other bodies keep MAX_BODY_BYTES."
        ),
    )
    allowed_hosts: str = Field(
        "",
        validation_alias="ALLOWED_HOSTS",
        description=(
            "Host names the app answers to besides localhost, 127.0.0.1 and [::1], comma-separated "
            "(`*` for any). Empty: any when APP_HOST is 0.0.0.0 or ::, else only APP_HOST."
        ),
    )
    trusted_origins: str = Field(
        "",
        validation_alias="TRUSTED_ORIGINS",
        description=(
            "Other origins (e.g. `https://chat.example.com`) whose pages may send requests with the "
            "app's cookies, comma-separated: a proxy that rewrites the Host header needs its public origin here."
        ),
    )
    share: bool = Field(
        False,
        validation_alias="SHARE",
        description="Open a public link through Gradio's share tunnel (`app.py --share`); needs internet.",
    )
    allow_anonymous: bool = Field(
        False,
        validation_alias="ALLOW_ANONYMOUS",
        description="Let `--share` run without accounts: anyone with the public link may chat.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info",
        validation_alias="LOG_LEVEL",
        description="Verbosity of the app's own log.",
    )
    access_log: bool = Field(
        False,
        validation_alias="ACCESS_LOG",
        description="Log every HTTP request (the page's polling included); always on with LOG_LEVEL=debug.",
    )

    @field_validator(
        "quantization",
        "vllm_base_url",
        "vllm_api_key",
        "database_url",
        "secret_key",
        "daily_tokens_per_user",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # An empty variable in a compose file or `.env` means "not set".
        if isinstance(value, str) and value.strip() in ("", "auto"):
            return None
        return value

    @field_validator(
        "login_rate", "chat_rate_per_user", "chat_rate_per_ip", "conversation_rate", "conversation_rate_per_ip"
    )
    @classmethod
    def _is_rate(cls, value: str) -> str:
        parse_rate(value)  # fails fast with an example of what is expected
        return value

    @field_validator("admin_password", "users_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("vllm_base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        urls = [url.strip().rstrip("/") for url in value.split(",") if url.strip()]
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"VLLM_BASE_URL must start with http:// or https://, got {url!r}")
        if len(set(urls)) != len(urls):
            raise ValueError("VLLM_BASE_URL names the same server twice")
        return ",".join(urls) or None

    @model_validator(mode="after")
    def _ports_differ(self) -> Settings:
        if self.vllm_base_url is None and self.port == self.engine_port:
            raise ValueError(f"APP_PORT and ENGINE_PORT are both {self.port}: choose two ports")
        return self

    @model_validator(mode="after")
    def _share_needs_accounts(self) -> Settings:
        if self.share and not self.accounts and not self.allow_anonymous:
            raise ValueError(
                "--share makes the app public: set ADMIN_PASSWORD or USERS_FILE so that people must sign in, "
                "or pass --allow-anonymous (ALLOW_ANONYMOUS=true) to let anyone with the link chat"
            )
        return self

    @property
    def accounts(self) -> bool:
        """True when people must sign in (an admin password or a users file is configured)."""
        return self.admin_password is not None or self.users_file is not None

    @property
    def external_engine(self) -> bool:
        """True when the app talks to a server it did not launch."""
        return self.vllm_base_url is not None

    @property
    def vllm_base_urls(self) -> list[str]:
        """The external engine endpoints, in the order given (empty when the app launches its own)."""
        return self.vllm_base_url.split(",") if self.vllm_base_url else []

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'chat.db'}"
