"""The Temporal client: one per process; pydantic data converter, encryption and TLS."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from core.codec import data_converter
from core.settings import Settings
from core.signed_actions import SigningInterceptor


async def connect(settings: Settings) -> Client:
    """Connect to the configured Temporal server or cluster."""
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
            server_root_ca_cert=(
                settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None
            ),
        )
    action_key = settings.action_signing_key()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        # Encrypts every payload when a key is configured (core/codec.py).
        data_converter=data_converter(settings.codec()),
        # Signs every action sent to a case (workflows/action_signing.py).
        interceptors=[SigningInterceptor(action_key)] if action_key else [],
        tls=tls,
    )
