"""Settings for the worker, the API and the CLI, read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, PositiveInt, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.enums import Stage


class Settings(BaseSettings):
    """Process configuration. The same worker runs against a dev server or a production cluster."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

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
