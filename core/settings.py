"""Settings for the worker, the API and the CLI, read once from the environment."""

from __future__ import annotations

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
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"],
        validation_alias="ASYLUMFLOW_CODEC_CORS_ORIGINS",
        description="Temporal UI origins allowed to call the codec endpoint",
    )

    data_dir: Path = Field(default=Path(".data"), validation_alias="ASYLUMFLOW_DATA_DIR")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    temporal_address: str = Field(default="localhost:7233", validation_alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", validation_alias="TEMPORAL_NAMESPACE")
    temporal_tls_cert: Path | None = Field(default=None, validation_alias="TEMPORAL_TLS_CERT")
    temporal_tls_key: Path | None = Field(default=None, validation_alias="TEMPORAL_TLS_KEY")
    temporal_tls_ca: Path | None = Field(default=None, validation_alias="TEMPORAL_TLS_CA")
    task_queue: str = Field(default="asylumflow-cases", validation_alias="ASYLUMFLOW_TASK_QUEUE")
    api_host: str = Field(default="127.0.0.1", validation_alias="API_HOST")
    api_port: int = Field(default=8000, validation_alias="API_PORT")
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
    reminder_offsets_days: list[int] = Field(
        default_factory=lambda: [7, 2],
        validation_alias="ASYLUMFLOW_REMINDER_OFFSETS_DAYS",
        description="Days before each running deadline on which legal aid orgs are reminded "
        "(webhooks) and alarmed (calendar feed); JSON list, e.g. [7, 2]",
    )

    @field_validator("reminder_offsets_days")
    @classmethod
    def _offsets_in_range(cls, value: list[int]) -> list[int]:
        if any(not 0 <= v <= 366 for v in value):
            raise ValueError("reminder offsets are whole days from 0 to 366")
        return sorted(set(value), reverse=True)

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

    def codec(self) -> EncryptionCodec | None:
        """The payload codec, when a key is configured."""
        if self.encryption_key is None:
            return None
        return make_codec(
            self.encryption_key_id,
            self.encryption_key.get_secret_value(),
            [k.get_secret_value() for k in self.encryption_old_keys],
        )

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


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process (never at import time)."""
    return Settings()
