"""The Temporal client: one per process, with the pydantic data converter and optional TLS."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from api.settings import Settings


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
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls,
    )
