"""Settings for the worker, the API and the CLI, read once from the environment."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.codec import CodecError, EncryptionCodec, make_codec, parse_key
from models.enums import Stage

EXAMPLE_KEYS = frozenset({"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
"""Keys from documentation: never acceptable outside development."""


class Settings(BaseSettings):
    """Process configuration. The same worker runs against a dev server or a production cluster."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = Field(
        default="development",
        validation_alias="ASYLUMFLOW_ENV",
        description="Outside development, secrets must be set and must not be defaults",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_ENCRYPTION_KEY",
        description="Base64 AES-256 key for Temporal payloads (`python -c 'from core.codec "
        "import new_key; print(new_key())'`)",
    )
    encryption_key_id: str = Field(default="k1", validation_alias="ASYLUMFLOW_ENCRYPTION_KEY_ID")
    encryption_old_keys: list[SecretStr] = Field(
        default_factory=list,
        validation_alias="ASYLUMFLOW_ENCRYPTION_OLD_KEYS",
        description='Rotated-out keys that still decrypt, JSON: ["<id>:<base64 key>"]',
    )
    encryption_key_file: Path | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_ENCRYPTION_KEY_FILE",
        description="A file holding the base64 key, when ASYLUMFLOW_ENCRYPTION_KEY is unset "
        "(`make run` keeps one in the data directory)",
    )
    action_key: SecretStr | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_ACTION_KEY",
        description="Base64 key the API signs actions with and the workers check them with; "
        "default: derived from the encryption key",
    )
    action_key_file: Path | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_ACTION_KEY_FILE",
        description="A file holding the action key, when ASYLUMFLOW_ACTION_KEY is unset",
    )
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"],
        validation_alias="ASYLUMFLOW_CODEC_CORS_ORIGINS",
        description="Temporal UI origins allowed to call the codec endpoint",
    )

    data_dir: Path = Field(
        default=Path(".data"),
        validation_alias="ASYLUMFLOW_DATA_DIR",
        description="The embedded stack's files: Temporal's SQLite file, the SQLite read model",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="The read model (default: SQLite `asylumflow.db` in the data dir)",
    )
    temporal_address_setting: str | None = Field(
        default=None,
        validation_alias="TEMPORAL_ADDRESS",
        description="host:port of the Temporal frontend; wins over TEMPORAL_PORT",
    )
    temporal_port: int = Field(
        default=7233,
        validation_alias="TEMPORAL_PORT",
        description="Port of the local Temporal server (127.0.0.1) when TEMPORAL_ADDRESS is unset",
    )
    temporal_ui_port: int = Field(
        default=8233, validation_alias="TEMPORAL_UI_PORT", description="`make run`'s Temporal UI"
    )
    temporal_namespace: str = Field(default="default", validation_alias="TEMPORAL_NAMESPACE")
    temporal_tls: bool | None = Field(
        default=None,
        validation_alias="TEMPORAL_TLS",
        description="TLS to the frontend (default: on when a cert, a CA or an API key is set)",
    )
    temporal_tls_cert: Path | None = Field(
        default=None, validation_alias="TEMPORAL_TLS_CERT", description="mTLS client certificate"
    )
    temporal_tls_key: Path | None = Field(
        default=None, validation_alias="TEMPORAL_TLS_KEY", description="mTLS client private key"
    )
    temporal_tls_ca: Path | None = Field(
        default=None,
        validation_alias="TEMPORAL_TLS_CA",
        description="CA bundle the server's certificate is checked against (default: system CAs)",
    )
    temporal_tls_server_name: str | None = Field(
        default=None,
        validation_alias="TEMPORAL_TLS_SERVER_NAME",
        description="Name the server's certificate is checked for (default: the address's host)",
    )
    temporal_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="TEMPORAL_API_KEY",
        description="API key (Temporal Cloud), sent as `authorization: Bearer` metadata",
    )
    task_queue: str = Field(default="asylumflow-cases", validation_alias="ASYLUMFLOW_TASK_QUEUE")
    api_host: str = Field(default="127.0.0.1", validation_alias="API_HOST")
    api_port: int = Field(default=8000, validation_alias="API_PORT")
    public_url: str | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_PUBLIC_URL",
        description="The API's address as users reach it (e.g. https://asylum.example.gov), "
        "for links the API hands out: the calendar feed (default http://API_HOST:API_PORT, "
        "never a request's Host header, which the caller chooses) and the dashboard's one-time "
        "sign-in links (default: the address the caller itself used)",
    )
    ui_session_idle_minutes: PositiveInt = Field(
        default=30,
        validation_alias="ASYLUMFLOW_UI_SESSION_IDLE_MINUTES",
        description="Minutes without a request after which a dashboard session ends",
    )
    ui_session_max_hours: PositiveInt = Field(
        default=8,
        validation_alias="ASYLUMFLOW_UI_SESSION_MAX_HOURS",
        description="Hours after signing in at which a dashboard session ends, however active",
    )
    max_concurrent_workflow_tasks: PositiveInt | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_MAX_CONCURRENT_WORKFLOW_TASKS",
        description="Workflow tasks one worker runs at once (default: the SDK's, 100)",
    )
    max_concurrent_activities: PositiveInt | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_MAX_CONCURRENT_ACTIVITIES",
        description="Activities one worker runs at once (default: the SDK's, 100)",
    )
    max_cached_workflows: int | None = Field(
        default=None,
        ge=0,
        validation_alias="ASYLUMFLOW_MAX_CACHED_WORKFLOWS",
        description="Cases one worker keeps in memory (sticky cache; default: the SDK's, 1000)",
    )
    retention_days: PositiveInt = Field(
        default=30,
        validation_alias="ASYLUMFLOW_RETENTION_DAYS",
        description="Days Temporal keeps a closed case's workflow (set on the namespace by "
        "`asylumflow schedules apply`); older closed cases cannot be rebuilt from Temporal",
    )
    extra_packs_dir: Path | None = Field(
        default=None,
        validation_alias="ASYLUMFLOW_EXTRA_PACKS",
        description="A directory of additional rule packs (e.g. test packs in seconds)",
    )
    history_threshold: int = Field(
        default=2000,
        validation_alias="ASYLUMFLOW_HISTORY_THRESHOLD",
        description="Continue a case workflow as new once its history has this many events",
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        validation_alias="ASYLUMFLOW_AUTH_CACHE_SECONDS",
        description="Seconds a checked bearer token is trusted without SQL (0: every request)",
    )
    projection_repair_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="ASYLUMFLOW_PROJECTION_REPAIR_SECONDS",
        description="How often workers project cases whose API write was lost, and how old "
        "such a change must be first",
    )
    search_attributes: bool = Field(
        default=True,
        validation_alias="ASYLUMFLOW_SEARCH_ATTRIBUTES",
        description="Upsert the case search attributes (the server must have them registered)",
    )
    service_levels: dict[Stage, PositiveInt] = Field(
        default_factory=dict,
        validation_alias="ASYLUMFLOW_SERVICE_LEVELS",
        description='Days per stage before a case counts as stuck, as JSON: {"registered": 10}. '
        "Overrides the built-in levels; a rule pack's own `service_levels` override these",
    )
    webhook_private_hosts: bool = Field(
        default=False,
        validation_alias="ASYLUMFLOW_WEBHOOK_PRIVATE_HOSTS",
        description="Allow reminder webhooks on loopback or private addresses (one-machine "
        "setups and tests only: otherwise an org's user could make the workers call internal "
        "services)",
    )
    export_k: PositiveInt = Field(
        default=5,
        validation_alias="ASYLUMFLOW_EXPORT_K",
        description="The anonymised export's k: every combination of its quasi-identifiers "
        "appears at least k times (rows that would break it are suppressed); a request may "
        "raise it, never lower it",
    )
    reminder_offsets_days: list[int] = Field(
        default_factory=lambda: [7, 2],
        validation_alias="ASYLUMFLOW_REMINDER_OFFSETS_DAYS",
        description="Days before each running deadline on which legal aid orgs are reminded "
        "(webhooks) and alarmed (calendar feed); JSON list, e.g. [7, 2]",
    )

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError("ASYLUMFLOW_PUBLIC_URL is an http(s) base URL (no query, no fragment)")
        return value.rstrip("/")

    @field_validator("reminder_offsets_days")
    @classmethod
    def _offsets_in_range(cls, value: list[int]) -> list[int]:
        if any(not 0 <= v <= 366 for v in value):
            raise ValueError("reminder offsets are whole days from 0 to 366")
        return sorted(set(value), reverse=True)

    @model_validator(mode="after")
    def _keys_from_files(self) -> Settings:
        # Files as `make run` keeps them beside each other in the data directory (0600).
        if self.encryption_key is None and self.encryption_key_file is not None:
            self.encryption_key = _key_from(self.encryption_key_file, "ENCRYPTION_KEY_FILE")
        if self.action_key is None and self.action_key_file is not None:
            self.action_key = _key_from(self.action_key_file, "ACTION_KEY_FILE")
        if self.action_key is not None:
            try:
                parse_key(self.action_key.get_secret_value())
            except CodecError as exc:
                raise ValueError(f"ASYLUMFLOW_ACTION_KEY: {exc}") from None
        return self

    @model_validator(mode="after")
    def _safe_outside_development(self) -> Settings:
        if self.encryption_key is not None:
            try:
                parse_key(self.encryption_key.get_secret_value())
            except CodecError as exc:
                raise ValueError(f"ASYLUMFLOW_ENCRYPTION_KEY: {exc}") from None
        if self.environment == "development":
            return self
        if self.encryption_key is None:
            raise ValueError(
                "ASYLUMFLOW_ENCRYPTION_KEY is required outside development: payloads would "
                "reach the Temporal server in the clear"
            )
        if self.encryption_key.get_secret_value() in EXAMPLE_KEYS:
            raise ValueError("ASYLUMFLOW_ENCRYPTION_KEY is an example key; generate a new one")
        if self.database_url is None:
            raise ValueError("DATABASE_URL is required outside development")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS)")
        return self

    def codec(self) -> EncryptionCodec | None:
        """The payload codec, when a key is configured."""
        if self.encryption_key is None:
            return None
        return make_codec(
            self.encryption_key_id,
            self.encryption_key.get_secret_value(),
            [k.get_secret_value() for k in self.encryption_old_keys],
        )

    def action_signing_key(self) -> bytes | None:
        """The key actions are signed and checked with (`workflows.action_signing`).

        `ASYLUMFLOW_ACTION_KEY` (or its file); else derived from the encryption key, so every
        deployment that encrypts also signs; None without either (development in the clear).
        """
        if self.action_key is not None:
            return parse_key(self.action_key.get_secret_value())
        if self.encryption_key is not None:
            codec_key = parse_key(self.encryption_key.get_secret_value())
            return hmac.new(codec_key, b"asylumflow action signing v1", hashlib.sha256).digest()
        return None

    @property
    def public_base_url(self) -> str:
        """`ASYLUMFLOW_PUBLIC_URL`, or the configured host and port (never a request's Host)."""
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def ui_session_idle(self) -> timedelta:
        """How long a dashboard session may go unused."""
        return timedelta(minutes=self.ui_session_idle_minutes)

    @property
    def ui_session_max_age(self) -> timedelta:
        """How long a dashboard session lasts at most."""
        return timedelta(hours=self.ui_session_max_hours)

    @property
    def temporal_address(self) -> str:
        """`TEMPORAL_ADDRESS`, or the local server on `TEMPORAL_PORT`."""
        return self.temporal_address_setting or f"127.0.0.1:{self.temporal_port}"

    @property
    def temporal_uses_tls(self) -> bool:
        """TLS when asked for, or implied by a certificate, a CA or an API key."""
        if self.temporal_tls is not None:
            return self.temporal_tls
        return bool(
            self.temporal_tls_cert
            or self.temporal_tls_ca
            or self.temporal_api_key
            or self.temporal_tls_server_name
        )

    @property
    def api_url(self) -> str:
        """Where the API listens (the README's `$API`)."""
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    def workflow_options(self) -> dict[str, Any]:
        """What this process starts case workflows with (see `CaseInput.opening`)."""
        return {
            "history_threshold": self.history_threshold,
            "search_attributes": self.search_attributes,
            "reminder_offsets_days": self.reminder_offsets_days,
        }

    @property
    def db_url(self) -> str:
        """`DATABASE_URL`, or a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'asylumflow.db').resolve()}"


def _key_from(path: Path, setting: str) -> SecretStr:
    """A base64 key read from a file (a `ValueError` naming the setting if it cannot be)."""
    try:
        return SecretStr(path.read_text().strip())
    except OSError as exc:
        raise ValueError(f"ASYLUMFLOW_{setting}: cannot read {path}: {exc.strerror}") from None


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process (never at import time)."""
    return Settings()
