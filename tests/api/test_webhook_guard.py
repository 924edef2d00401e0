"""Issue 21 finding 7: IPv6 spellings of IPv4 addresses, and no second resolution.

The webhook guard reads every IPv6 spelling of an IPv4 address, and a delivery connects to the
address it checked (no second resolution for DNS rebinding to use).

No test here sends anything beyond this machine: names are answered by a fake resolver, and
`network_jail` refuses every connection to a non-loopback address before it is attempted.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from activities.webhook_guard import embedded_ipv4, refused_address
from api.app import create_app
from core.settings import Settings
from db.users import Role
from tests.api.helpers import Api, ago, lodged_on, open_case
from tests.webhooks import WebhookReceiver
from worker import build_worker

LOOPBACK_SPELLINGS = (
    "http://[::127.0.0.1]/x",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/x",  # NAT64
    "http://[2002:7f00:1::]/x",  # 6to4
    "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped
    "http://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
    "http://[2002:a9fe:a9fe::]/x",  # 6to4 of 169.254.169.254 (cloud metadata)
    "http://[::ffff:a9fe:a9fe]/x",
    "http://[64:ff9b:1::1]/x",  # local-use NAT64
    "http://224.0.0.1/x",  # multicast
)

_real_getaddrinfo = socket.getaddrinfo
_real_create_connection = socket.create_connection


@pytest.fixture
def network_jail(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Connections only to loopback: anything else is refused before a packet leaves.

    Returns the list of refused destinations. Names are resolved through `socket.getaddrinfo`
    (which a test may fake) exactly as `socket.create_connection` would.
    """
    refused: list[str] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address[:2]
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        targets = [str(sockaddr[0]) for *_, sockaddr in found]
        loopback = [t for t in targets if t in ("127.0.0.1", "::1")]
        if not loopback:
            refused.append(f"{host} -> {targets}")
            raise ConnectionRefusedError(f"test network jail: {host} is not loopback")
        return _real_create_connection((loopback[0], port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return refused


def fake_resolver(
    monkeypatch: pytest.MonkeyPatch, name: str, answers: Callable[[int], str]
) -> list[int]:
    """Answer `name` with `answers(n)` on its n-th lookup (from 1); other names as usual."""
    calls: list[int] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        calls.append(len(calls) + 1)
        address = answers(len(calls))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_embedded_ipv4_addresses_are_judged() -> None:
    for url in LOOPBACK_SPELLINGS:
        literal = httpx.URL(url).host
        address = ipaddress.ip_address(literal)
        assert refused_address(address) is not None, url
    assert str(embedded_ipv4(ipaddress.IPv6Address("64:ff9b::7f00:1"))) == "127.0.0.1"
    assert str(embedded_ipv4(ipaddress.IPv6Address("2002:7f00:1::"))) == "127.0.0.1"
    assert str(embedded_ipv4(ipaddress.IPv6Address("::127.0.0.1"))) == "127.0.0.1"
    # Public IPv4 inside NAT64 / 6to4 stays public; plain public addresses too.
    assert refused_address(ipaddress.ip_address("64:ff9b::5db8:d70e")) is None
    assert refused_address(ipaddress.ip_address("2606:4700:4700::1111")) is None
    assert refused_address(ipaddress.ip_address("93.184.215.14")) is None


async def test_ipv6_spellings_of_internal_addresses_are_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch, network_jail: list[str]
) -> None:
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    settings = api.app.state.settings.model_copy(update={"webhook_private_hosts": False})
    monkeypatch.setattr(api.app.state, "settings", settings)
    for url in LOOPBACK_SPELLINGS:
        response = await api.http.post(
            "/legal-aid/webhooks", json={"url": url}, headers=api.auth("la-a")
        )
        assert response.status_code == 422, (url, response.text)
        assert response.json()["field"] == "url"
    listed = await api.http.get("/legal-aid/webhooks", headers=api.auth("la-a"))
    assert listed.json()["items"] == []
    assert network_jail == []  # nothing tried to connect anywhere


@pytest_asyncio.fixture
async def strict_api(
    dev_env: WorkflowEnvironment, task_queue: str, engine: Engine, db_url: str
) -> AsyncIterator[Api]:
    """The app and a worker as deployed: webhooks on private addresses are not allowed."""
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db_url,
        ASYLUMFLOW_TASK_QUEUE=task_queue,
        ASYLUMFLOW_SEARCH_ATTRIBUTES=True,
        ASYLUMFLOW_WEBHOOK_PRIVATE_HOSTS=False,
    )
    app = create_app(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.temporal = dev_env.client
    async with (
        build_worker(dev_env.client, task_queue, engine, private_webhooks=False),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield Api(http=http, engine=engine, env=dev_env, task_queue=task_queue, app=app)


async def test_delivery_connects_to_the_address_it_checked(
    strict_api: Api, monkeypatch: pytest.MonkeyPatch, network_jail: list[str]
) -> None:
    """DNS rebinding: public for the checks, then loopback. The receiver must get nothing."""
    api = strict_api
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    with WebhookReceiver() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1])
        # Registration resolves once, the delivery once: both public. Any later lookup (a
        # client resolving the name again to connect) gets the loopback receiver.
        lookups = fake_resolver(
            monkeypatch, "rebind.invalid", lambda n: "93.184.215.14" if n <= 2 else "127.0.0.1"
        )
        hook = await api.http.post(
            "/legal-aid/webhooks",
            json={"url": f"http://rebind.invalid:{port}/hook"},
            headers=api.auth("la-a"),
        )
        assert hook.status_code == 201, hook.text
        await open_case(api, "org-a", lodged_on(ago(months=3, days=-4)))
        url = f"/legal-aid/webhooks/{hook.json()['id']}/deliveries"

        async def attempted() -> bool:
            response = await api.http.get(url, headers=api.auth("la-a"))
            return len(response.json()["items"]) >= 2

        # The first attempt went to the checked (public) address, which the jail refused; the
        # retry resolves again, gets loopback, and is refused by the guard without connecting.
        await api.wait_for(attempted, "two delivery attempts", timeout=30)
        log = (await api.http.get(url, headers=api.auth("la-a"))).json()["items"]
        assert receiver.requests == []
        assert not any(d["ok"] for d in log)
        assert log[1]["error"].startswith("not sent:") and "non-public" in log[1]["error"]
        assert network_jail and all("93.184.215.14" in r for r in network_jail)
        assert len(lookups) >= 3


async def test_delivery_keeps_the_host_name(
    api: Api, monkeypatch: pytest.MonkeyPatch, network_jail: list[str]
) -> None:
    """Pinned to the address it resolved: the receiver still sees the URL's own host name."""
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    with WebhookReceiver() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1])
        lookups = fake_resolver(monkeypatch, "hooks.invalid", lambda n: "127.0.0.1")
        hook = await api.http.post(
            "/legal-aid/webhooks",
            json={"url": f"http://hooks.invalid:{port}/in?org=a"},
            headers=api.auth("la-a"),
        )
        assert hook.status_code == 201, hook.text
        await open_case(api, "org-a", lodged_on(ago(months=3, days=-4)))
        (reminder,) = await receiver.wait_accepted(1)
        assert reminder.path == "/in?org=a"
        assert reminder.headers["host"] == f"hooks.invalid:{port}"
        assert network_jail == []
        assert len(lookups) == 1  # one resolution for the delivery, none to connect
