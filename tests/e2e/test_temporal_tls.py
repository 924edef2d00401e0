"""Server-only TLS with a private CA and an API key, for real, through a TLS-terminating proxy.

The test makes a CA and a server certificate (for `localhost`), and puts a TLS-terminating TCP
proxy (asyncio + ssl, ALPN `h2`; what nginx's `grpc_pass` would do, without nginx) in front of
the dev server's plaintext gRPC port. `core.temporal.connect` must reach Temporal through it
with nothing but `TEMPORAL_TLS_CA` configured (no client certificate), and must fail without
the CA. The proxy also decodes the HTTP/2 HEADERS frames the client sends (HPACK), so the test
sees `TEMPORAL_API_KEY` arrive as `authorization: Bearer <key>` metadata. Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hpack
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from core.settings import Settings
from core.temporal import connect
from tests.e2e.helpers import DevServer, free_port


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for localhost it signed: (ca, cert, key)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("asylumflow test CA"))
        .issuer_name(_name("asylumflow test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "srv.pem",
        directory / "srv.key",
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class HeaderSniffer:
    """Decodes the gRPC metadata in a client's HTTP/2 stream (HEADERS + CONTINUATION frames)."""

    def __init__(self, seen: list[tuple[str, str]]) -> None:
        self.buffer = b""
        self.decoder = hpack.Decoder()
        self.block = b""
        self.seen = seen

    def feed(self, data: bytes) -> None:
        """Take the next bytes the client sent."""
        self.buffer += data
        if self.buffer.startswith(PREFACE):
            self.buffer = self.buffer[len(PREFACE) :]
        while len(self.buffer) >= 9:
            length = int.from_bytes(self.buffer[:3], "big")
            kind, flags = self.buffer[3], self.buffer[4]
            if len(self.buffer) < 9 + length:
                return
            payload, self.buffer = self.buffer[9 : 9 + length], self.buffer[9 + length :]
            if kind == 0x1:  # HEADERS: optional padding and priority before the block
                pad = payload[0] if flags & 0x8 else 0
                start = (1 if flags & 0x8 else 0) + (5 if flags & 0x20 else 0)
                self.block = payload[start : len(payload) - pad]
            elif kind == 0x9:  # CONTINUATION
                self.block += payload
            else:
                continue
            if flags & 0x4:  # END_HEADERS
                for name, value in self.decoder.decode(self.block):
                    self.seen.append((str(name), str(value)))
                self.block = b""


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sniff: HeaderSniffer | None
) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            if sniff is not None:
                sniff.feed(data)
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


@pytest_asyncio.fixture
async def tls_proxy(
    dev_server: DevServer, e2e_dir: Path
) -> AsyncIterator[tuple[int, Path, list[tuple[str, str]]]]:
    """A TLS-terminating proxy to the dev server.

    Yields its port, the CA of its certificate, and the request headers (gRPC metadata) that
    clients sent through it.
    """
    ca, cert, key = make_ca_and_server_cert(e2e_dir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    seen: list[tuple[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", dev_server.port)
        connections.append((up_reader, up_writer))
        await asyncio.gather(
            _pipe(reader, up_writer, HeaderSniffer(seen)), _pipe(up_reader, writer, None)
        )

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=context)
    try:
        yield port, ca, seen
    finally:
        server.close()
        for _, up_writer in connections:
            up_writer.close()


async def test_server_only_tls_with_a_private_ca_and_an_api_key(
    dev_server: DevServer, tls_proxy: tuple[int, Path, list[tuple[str, str]]]
) -> None:
    await dev_server.connect()  # the server is up, plaintext, on its own port
    port, ca, seen = tls_proxy
    settings = Settings(
        _env_file=None,
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        TEMPORAL_TLS_CA=ca,
        TEMPORAL_TLS_SERVER_NAME="localhost",
    )
    assert settings.temporal_tls_cert is None  # no client certificate anywhere
    client = await connect(settings)
    assert await client.service_client.check_health()
    assert [w async for w in client.list_workflows('WorkflowType = "Nothing"')] == []

    assert not any(name == "authorization" for name, _ in seen)

    # An API key travels as `authorization` metadata on every call (the dev server ignores it).
    keyed = await connect(settings.model_copy(update={"temporal_api_key": SecretStr("k-123")}))
    await keyed.service_client.check_health()
    assert ("authorization", "Bearer k-123") in seen

    # Without the CA, the proxy's certificate is refused.
    untrusted = Settings(
        _env_file=None,
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        TEMPORAL_TLS=True,
        TEMPORAL_TLS_SERVER_NAME="localhost",
    )
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect(untrusted), 30)
