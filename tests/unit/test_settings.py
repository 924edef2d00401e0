"""One settings source: the Temporal address, TLS and the worker tuning from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from core.settings import Settings
from core.temporal import tls_config
from worker import worker_tuning


def _settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_PORT", "TEMPORAL_TLS", "TEMPORAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_temporal_port_is_used_unless_an_address_is_given() -> None:
    assert _settings().temporal_address == "127.0.0.1:7233"
    assert _settings(TEMPORAL_PORT="7300").temporal_address == "127.0.0.1:7300"
    both = _settings(TEMPORAL_PORT="7300", TEMPORAL_ADDRESS="temporal.internal:7233")
    assert both.temporal_address == "temporal.internal:7233"


def test_the_environment_reaches_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_PORT", "7301")
    monkeypatch.setenv("API_PORT", "8100")
    settings = Settings(_env_file=None)
    assert settings.temporal_address == "127.0.0.1:7301"
    assert settings.api_url == "http://127.0.0.1:8100"


def test_tls_follows_what_is_configured(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"CA")
    assert tls_config(_settings()) is False
    # Server-only TLS with a custom CA: no client certificate.
    only_ca = tls_config(_settings(TEMPORAL_TLS_CA=str(ca)))
    assert isinstance(only_ca, TLSConfig)
    assert only_ca.server_root_ca_cert == b"CA" and only_ca.client_cert is None
    # An API key (Temporal Cloud) implies TLS with the system's CAs.
    keyed = tls_config(_settings(TEMPORAL_API_KEY="secret"))
    assert isinstance(keyed, TLSConfig) and keyed.server_root_ca_cert is None
    assert tls_config(_settings(TEMPORAL_API_KEY="k", TEMPORAL_TLS="false")) is False
    with pytest.raises(ValueError, match="go together"):
        _settings(TEMPORAL_TLS_CERT=str(ca))


def test_worker_tuning_only_overrides_what_is_set() -> None:
    assert set(worker_tuning(_settings())) == {"graceful_shutdown_timeout"}
    tuned = worker_tuning(
        _settings(
            ASYLUMFLOW_MAX_CONCURRENT_WORKFLOW_TASKS="50",
            ASYLUMFLOW_MAX_CONCURRENT_ACTIVITIES="20",
            ASYLUMFLOW_MAX_CACHED_WORKFLOWS="300",
        )
    )
    assert tuned["max_concurrent_workflow_tasks"] == 50
    assert tuned["max_concurrent_activities"] == 20
    assert tuned["max_cached_workflows"] == 300


def test_the_readme_table_lists_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("## Settings") : readme.index("## Running the embedded stack")]
    for name, info in Settings.model_fields.items():
        alias = str(info.validation_alias or name)
        short = alias.removeprefix("ASYLUMFLOW_ENCRYPTION")
        assert f"`{alias}`" in table or f"`{short}`" in table, alias
