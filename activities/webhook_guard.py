"""Where the workers may POST a reminder: public addresses only, and the one that was checked.

Webhook URLs come from legal aid users, and the workers that POST to them sit inside the
authority's network: a URL naming a loopback, private, link-local or otherwise non-public
address would let an org's user make the workers call internal services (SSRF). Two rules:

- Every IPv6 spelling of an IPv4 address is judged as that IPv4 address: IPv4-mapped
  (`::ffff:127.0.0.1`), IPv4-compatible (`::127.0.0.1`), NAT64 (`64:ff9b::7f00:1`), 6to4
  (`2002:7f00:1::`). Python's `is_global` alone lets the last three pass.
- The address checked is the address connected to (`PinnedTransport`): a name is resolved once
  per delivery, and the connection goes to that IP, with the original `Host` header and TLS
  server name. Resolving it again to connect would let a DNS answer that changes in between
  (DNS rebinding) point the second resolution at an internal service.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: any prefix length inside
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_LOW32 = 0xFFFFFFFF


class RefusedTarget(httpx.TransportError):
    """The webhook's host is, or resolves to, an address the workers may not call."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & _LOW32)
    return None


def refused_address(address: IPAddress) -> str | None:
    """Why `address` is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        if address in _NAT64_LOCAL or address.teredo is not None:
            return "a translated address whose IPv4 address cannot be checked"
        inner = embedded_ipv4(address)
        if inner is not None:
            # Judged as the IPv4 address it reaches (the prefixes themselves are "reserved").
            reason = refused_address(inner)
            return None if reason is None else f"{reason} inside {address}"
    if not address.is_global or address.is_multicast or address.is_reserved:
        return f"non-public address ({address})"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address is itself), in the resolver's order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        # An IPv6 address may carry a zone ("fe80::1%eth0"): the address is before it.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def checked_address(host: str, port: int, *, private_hosts: bool) -> IPAddress:
    """The one address to connect to for `host`, resolved once and checked.

    Every address the name resolves to must be public (one bad answer refuses the host: a
    client could be made to try it). `private_hosts` allows non-public ones (single-machine
    setups and tests, `ASYLUMFLOW_WEBHOOK_PRIVATE_HOSTS`).

    Raises:
        RefusedTarget: the host does not resolve, or resolves to a non-public address.
    """
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        raise RefusedTarget(f"the host {host} does not resolve") from None
    if not addresses:
        raise RefusedTarget(f"the host {host} does not resolve")
    if not private_hosts:
        for address in addresses:
            reason = refused_address(address)
            if reason is not None:
                raise RefusedTarget(f"the host {host} resolves to a {reason}")
    return addresses[0]


def default_port(url: httpx.URL) -> int:
    """The URL's port, or its scheme's."""
    return url.port or (443 if url.scheme == "https" else 80)


class PinnedTransport(httpx.BaseTransport):
    """Resolves each request's host once, checks it, and connects to that very address.

    The request keeps its `Host` header (set from the original URL) and, for https, the TLS
    server name and certificate check use the original host name (`sni_hostname`).
    """

    def __init__(self, *, private_hosts: bool, inner: httpx.BaseTransport | None = None) -> None:
        self.private_hosts = private_hosts
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check the host, then send the request to the address that was checked."""
        host = request.url.host
        address = checked_address(host, default_port(request.url), private_hosts=self.private_hosts)
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        request.url = request.url.copy_with(host=str(address))
        return self._inner.handle_request(request)

    def close(self) -> None:
        """Close the inner transport's connections."""
        self._inner.close()


class OriginOnly(logging.Filter):
    """Cuts every URL in httpx's log lines down to its origin (`scheme://host:port`).

    httpx logs each request's full URL at INFO; a webhook's path and query often carry the
    receiver's own secret, and logs travel further than the database.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's URL arguments; never drop the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                f"{a.scheme}://{a.netloc.decode('ascii', 'replace')}/..."
                if isinstance(a, httpx.URL)
                else a
                for a in record.args
            )
        return True


def redact_http_logs() -> None:
    """Install `OriginOnly` on httpx's logger (once per process)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, OriginOnly) for f in logger.filters):
        logger.addFilter(OriginOnly())


def pinned_client(*, private_hosts: bool, **options: Any) -> httpx.Client:
    """An httpx client that never follows redirects and connects only to checked addresses."""
    redact_http_logs()
    return httpx.Client(
        transport=PinnedTransport(private_hosts=private_hosts),
        follow_redirects=False,
        **options,
    )


def refused_url(url: str, *, private_hosts: bool = False) -> str | None:
    """Why reminders may not be POSTed to `url`, or None if they may (at registration)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return "the URL cannot be parsed"
    if not parsed.host:
        return "the URL names no host"
    try:
        checked_address(parsed.host, default_port(parsed), private_hosts=private_hosts)
    except RefusedTarget as exc:
        return str(exc)
    return None
