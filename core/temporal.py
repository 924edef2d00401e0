"""The Temporal client: one per process; pydantic data converter, encryption, TLS, API key."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from core.codec import data_converter
from core.settings import Settings
from core.signed_actions import SigningInterceptor


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The TLS options: mTLS (client cert and key), server-only TLS (a CA, or the system's)."""
    if not settings.temporal_uses_tls:
        return False
    return TLSConfig(
        server_root_ca_cert=(
            settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None
        ),
        domain=settings.temporal_tls_server_name,
        client_cert=(
            settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None
        ),
        client_private_key=(
            settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None
        ),
    )


async def connect(settings: Settings) -> Client:
    """Connect to the configured Temporal server or cluster (every process uses this)."""
    action_key = settings.action_signing_key()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        # Encrypts every payload when a key is configured (core/codec.py).
        data_converter=data_converter(settings.codec()),
        # Signs every action sent to a case (workflows/action_signing.py).
        interceptors=[SigningInterceptor(action_key)] if action_key else [],
        tls=tls_config(settings),
        api_key=(
            settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
        ),
    )
