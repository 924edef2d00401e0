"""Server-only TLS with a private CA and an API key, for real, through TLS-terminating proxies.

The tests make a CA and a server certificate (for `localhost` and 127.0.0.1) and put a
TLS-terminating gRPC proxy in front of the dev server's plaintext port:

- Debian's nginx (`grpc_pass`, HTTP/2 over TLS), the proxy a self-hosted cluster would have.
  `core.temporal.connect` reaches Temporal through it with nothing but `TEMPORAL_TLS_CA`
  configured (no client certificate, no server name), and a worker connected the same way runs
  a case. nginx logs the `authorization` header it receives and refuses a wrong API key, so the
  test sees `TEMPORAL_API_KEY` arrive as `authorization: Bearer <key>` metadata. Without the CA
  the connection is refused. nginx is installed by `.ci/run`; a local run without it skips, a
  CI run (`CI=true`) fails.
- A small TCP proxy (asyncio + ssl, ALPN `h2`) that also decodes the HTTP/2 HEADERS frames the
  client sends (HPACK), so the metadata is checked byte for byte even without nginx.

Every process is started and stopped here, by its own PID. Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
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
from sqlalchemy.engine import Engine
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import WorkflowExecutionStatus

from core.settings import Settings
from core.temporal import connect
from tests.e2e.helpers import DevServer, eventually, free_port, log_tail
from tests.workflows.helpers import act, local_today, start_case
from worker import build_worker


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed (localhost, 127.0.0.1): (ca, cert, key)."""
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
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
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


# --------------------------------------------------------------------------------------------
# Debian's nginx as the TLS-terminating gRPC proxy

API_KEY = "k-123"

NGINX_CONF = """\
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    log_format grpc '$request_uri $status authorization="$http_authorization"';
    access_log {dir}/access.log grpc;
    # No key (server-only TLS) or the right key pass; any other key is refused.
    map $http_authorization $refused {{
        default 1;
        "" 0;
        "Bearer {key}" 0;
    }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {cert_key};
        # A worker's long polls wait up to about 70 s for a task.
        grpc_read_timeout 300s;
        grpc_send_timeout 300s;
        location / {{
            if ($refused) {{
                return 403;
            }}
            grpc_pass grpc://127.0.0.1:{upstream};
        }}
    }}
}}
"""


def nginx_binary() -> str:
    """Debian's nginx; `.ci/run` installs it. Missing: skip locally, fail under CI."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        reason = "nginx is not installed (`apt-get install nginx`; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@dataclass
class Nginx:
    """An nginx process of the test's own, and what it wrote."""

    port: int
    ca: Path
    directory: Path

    @property
    def access_log(self) -> str:
        """One line per gRPC call: path, status and the `authorization` header."""
        path = self.directory / "access.log"
        return path.read_text() if path.exists() else ""


async def _logged(nginx: Nginx, line: str) -> None:
    """Wait for nginx's access log to hold `line`.

    nginx writes a request's log line when it finalises the request, which can be just after
    the client has its answer (seen in CI: a refused call not yet logged when read).
    """

    async def seen() -> bool | None:
        return True if line in nginx.access_log else None

    await eventually(seen, timeout=10, what=f"nginx logging {line}")


@pytest.fixture
def nginx(dev_server: DevServer, e2e_dir: Path) -> Iterator[Nginx]:
    """An nginx terminating TLS (a certificate of the test's own CA) before the dev server."""
    binary = nginx_binary()
    directory = e2e_dir / "nginx"
    (directory / "tmp").mkdir(parents=True)
    ca, cert, key = make_ca_and_server_cert(directory)
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=directory,
            port=port,
            cert=cert,
            cert_key=key,
            key=API_KEY,
            upstream=dev_server.port,
        )
    )
    error_log = directory / "error.log"
    with (directory / "nginx.out").open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "-p",
                str(directory),
                "-c",
                str(conf),
                "-e",
                str(error_log),
                "-g",
                "daemon off;",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"nginx exited with {process.returncode}:\n"
                    f"{log_tail(directory / 'nginx.out')}\n{log_tail(error_log)}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"nginx did not listen on {port}:\n{log_tail(error_log)}")
            time.sleep(0.1)
        yield Nginx(port, ca, directory)
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: nginx's fast shutdown, workers included
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def test_nginx_terminates_tls_with_only_the_ca_configured(
    dev_server: DevServer,
    nginx: Nginx,
    sqlite_engine: Engine,
    task_queue: str,
    case_id: str,
) -> None:
    await dev_server.connect()  # the server is up, plaintext, on its own port
    settings = Settings(
        _env_file=None, TEMPORAL_ADDRESS=f"127.0.0.1:{nginx.port}", TEMPORAL_TLS_CA=nginx.ca
    )
    assert settings.temporal_uses_tls
    assert settings.temporal_tls_cert is None  # no client certificate anywhere
    assert settings.temporal_tls_server_name is None  # the certificate names 127.0.0.1
    client = await connect(settings)
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=settings.temporal_namespace)
    )
    assert described.namespace_info.name == "default"

    # A worker connected the same way (its long polls go through nginx too) runs a case.
    async with build_worker(client, task_queue, sqlite_engine):
        today = local_today(datetime.now(UTC))
        handle = await start_case(client, task_queue, case_id, identified_on=today)
        state = await act(handle, "make_application", today)
        assert state["stage"] == "application_made"
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    calls = nginx.access_log.splitlines()
    assert any(
        "/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkflowExecution 200" in c
        for c in calls
    ), calls[-5:]
    assert 'authorization="Bearer' not in nginx.access_log

    # An API key travels as `authorization` metadata on every call: nginx sees it, checks it.
    keyed = await connect(settings.model_copy(update={"temporal_api_key": SecretStr(API_KEY)}))
    await keyed.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=settings.temporal_namespace)
    )
    await _logged(nginx, f'authorization="Bearer {API_KEY}"')
    with pytest.raises(RuntimeError):
        await connect(settings.model_copy(update={"temporal_api_key": SecretStr("wrong")}))
    await _logged(nginx, 'authorization="Bearer wrong"')

    # Without the CA, nginx's certificate is refused.
    untrusted = Settings(
        _env_file=None, TEMPORAL_ADDRESS=f"127.0.0.1:{nginx.port}", TEMPORAL_TLS=True
    )
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect(untrusted), 30)
    print(f"\nnginx: {len(nginx.access_log.splitlines())} gRPC calls proxied over TLS")
