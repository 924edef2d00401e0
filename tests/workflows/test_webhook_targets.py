"""Reminder webhooks may not point the workers at internal addresses (SSRF).

`refused_target` on literal addresses and names (no network needed: loopback names resolve
locally, `.invalid` never does), and the delivery activity, run for real against a receiver on
127.0.0.1 that must receive nothing unless private hosts are allowed.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.reminders import ReminderActivities, refused_target
from models.enums import ClockName
from models.reminders import ReminderRequest
from tests.webhooks import WebhookReceiver
from tests.workflows.helpers import add_webhook, attempts


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://172.16.0.9/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://100.64.0.1/hook",  # shared address space (carrier NAT)
        "http://0.0.0.0:7233/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",  # loopback inside an IPv4-mapped IPv6 address
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
    ],
)
def test_internal_addresses_are_refused(url: str) -> None:
    reason = refused_target(url)
    assert reason is not None and "non-public address" in reason
    assert refused_target(url, private_hosts=True) is None


def test_public_addresses_and_unresolvable_hosts() -> None:
    assert refused_target("https://93.184.215.14/hook") is None
    assert refused_target("https://[2606:4700:4700::1111]/hook") is None
    unresolvable = refused_target("https://webhooks.example.invalid/hook")
    assert unresolvable is not None and "does not resolve" in unresolvable


REQUEST = ReminderRequest(
    key="k-ssrf",
    case_id="c-ssrf",
    org="org-a",
    clock=ClockName.DECISION,
    due=date(2027, 1, 4),
    days_left=7,
)


def test_delivery_to_an_internal_address_is_refused(sqlite_engine: Engine) -> None:
    with WebhookReceiver() as receiver:
        add_webhook(sqlite_engine, "org-a", f"{receiver.url}/org-a")
        refusing = ReminderActivities(sqlite_engine)
        with pytest.raises(ApplicationError, match=r"not sent: the host 127\.0\.0\.1 resolves"):
            ActivityEnvironment().run(refusing.send_reminder, REQUEST)
        assert receiver.requests == []
        [attempt] = attempts(sqlite_engine)
        assert not attempt.ok and attempt.status_code is None
        assert attempt.error is not None and attempt.error.startswith("not sent:")
        # Allowed (one-machine setups): the same reminder goes out.
        allowing = ReminderActivities(sqlite_engine, private_hosts=True)
        assert ActivityEnvironment().run(allowing.send_reminder, REQUEST) == 1
        assert [r.path for r in receiver.accepted] == ["/org-a"]
