"""`reminder_retracted`: a sent reminder that a re-derivation no longer bears out is withdrawn.

Over HTTP against a real worker, with a real webhook receiver on 127.0.0.1. Each case is
Serbian, of org-a, lodged three months less four days ago: its decision clock falls due in four
to six days, so the 7-day reminder goes out at once. Then an act recorded late (a decision dated
yesterday), a correction (lodging earlier) or a retraction (of the lodging) shows that the
deadline the reminder was about did not stand when it was sent: org-a gets one
`{"kind": "reminder_retracted", "case_id", "clock", "due", "reason"}`, signed as reminders are.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

from db.users import Role
from tests.api.helpers import NAMES, Api, ago, open_case, today
from tests.webhooks import Received, WebhookReceiver


async def setup(api: Api, receiver: WebhookReceiver) -> str:
    """Users and org-a's webhook on the receiver; its secret."""
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    created = await api.http.post(
        "/legal-aid/webhooks", json={"url": f"{receiver.url}/a"}, headers=api.auth("la-a")
    )
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    return secret


async def reminded_case(api: Api, receiver: WebhookReceiver) -> tuple[str, str, Received]:
    """A case whose decision clock was just reminded of: (case id, due, the reminder)."""
    before = len(receiver.accepted)
    case_id = await open_case(
        api,
        "org-a",
        [
            ("make_application", {"on": ago(months=4)}),
            ("register", {"on": ago(months=4)}),
            ("lodge", {"on": ago(months=3, days=-4)}),
        ],
    )
    view = (await api.http.get(f"/cases/{case_id}", headers=api.auth("cw"))).json()
    due: str = next(d["due"] for d in view["deadlines"] if d["clock"] == "decision")
    reminder = (await receiver.wait_accepted(before + 1))[before]
    assert reminder.json()["kind"] == "reminder"
    assert reminder.json()["case_id"] == case_id
    return case_id, due, reminder


async def act(api: Api, case_id: str, action: str, **body: Any) -> dict[str, Any]:
    response = await api.http.post(
        f"/cases/{case_id}/actions/{action}", json=body, headers=api.auth("cw")
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def retractions(receiver: WebhookReceiver, case_id: str) -> list[Received]:
    return [
        r
        for r in receiver.accepted
        if r.json()["kind"] == "reminder_retracted" and r.json()["case_id"] == case_id
    ]


async def wait_retractions(receiver: WebhookReceiver, case_id: str, n: int) -> list[Received]:
    for _ in range(400):
        if len(retractions(receiver, case_id)) >= n:
            return retractions(receiver, case_id)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no reminder_retracted for {case_id}: {receiver.requests}")


async def nothing_more(receiver: WebhookReceiver, case_id: str, n: int) -> None:
    """Give the worker time to send what it would, then check only `n` retractions came."""
    await asyncio.sleep(2)
    assert len(retractions(receiver, case_id)) == n, receiver.requests


async def test_a_late_decision_retracts_the_reminder_sent_after_it(api: Api) -> None:
    with WebhookReceiver() as receiver:
        secret = await setup(api, receiver)
        case_id, due, reminder = await reminded_case(api, receiver)
        # The decision was taken yesterday, and recorded today: the reminder sent in between
        # was about a deadline already met.
        await act(api, case_id, "decide", on=ago(1), outcome="rejected")
        (retraction,) = await wait_retractions(receiver, case_id, 1)
        assert retraction.json() == {
            "kind": "reminder_retracted",
            "case_id": case_id,
            "clock": "decision",
            "due": due,
            "reason": "met",
        }
        assert retraction.path == "/a"
        expected = hmac.new(secret.encode(), retraction.body, hashlib.sha256).hexdigest()
        assert retraction.headers["x-asylumflow-signature"] == f"sha256={expected}"
        assert retraction.signed_with(secret)
        # It names the reminder it withdraws; no personal data.
        key = reminder.headers["x-asylumflow-reminder"]
        assert retraction.headers["x-asylumflow-reminder"] == key
        for name in NAMES:
            assert name.encode() not in retraction.body
        # Once per reminder: a further late act re-derives the record again, sends nothing.
        await act(api, case_id, "record_contact", on=ago(2))
        await nothing_more(receiver, case_id, 1)

    # The delivery log tells the retraction from the reminder.
    hooks = (await api.http.get("/legal-aid/webhooks", headers=api.auth("la-a"))).json()["items"]
    log = await api.http.get(
        f"/legal-aid/webhooks/{hooks[0]['id']}/deliveries", headers=api.auth("la-a")
    )
    assert [(d["kind"], d["ok"], d["clock"], d["due"]) for d in log.json()["items"]] == [
        ("reminder", True, "decision", due),
        ("reminder_retracted", True, "decision", due),
    ]


async def test_corrections_and_retractions_withdraw_reminders_later_acts_do_not(
    api: Api,
) -> None:
    with WebhookReceiver() as receiver:
        await setup(api, receiver)

        # A late act that leaves the deadline as it was, and an act dated today (after the
        # reminder): the reminder stands.
        case_id, due, _ = await reminded_case(api, receiver)
        await act(api, case_id, "record_contact", on=ago(3))
        await act(api, case_id, "record_contact", on=today().isoformat())
        await nothing_more(receiver, case_id, 0)
        # Lodged ten days earlier than recorded: the decision was due on another day.
        await act(
            api,
            case_id,
            "correct_event",
            on=today().isoformat(),
            event="lodged",
            date=ago(months=3, days=6),
        )
        (moved,) = await wait_retractions(receiver, case_id, 1)
        assert moved.json() == {
            "kind": "reminder_retracted",
            "case_id": case_id,
            "clock": "decision",
            "due": due,
            "reason": "due_changed",
        }

        # The lodging recorded by mistake: there was no decision clock to remind of.
        other, other_due, _ = await reminded_case(api, receiver)
        history = await api.http.get(
            f"/cases/{other}/history", params={"order": "recorded"}, headers=api.auth("cw")
        )
        lodge = next(i for i in history.json()["items"] if i["action"] == "lodge")
        await act(
            api,
            other,
            "retract_event",
            on=today().isoformat(),
            seq=lodge["seq"],
            reason="recorded on the wrong case",
        )
        (gone,) = await wait_retractions(receiver, other, 1)
        assert json.loads(gone.body) == {
            "kind": "reminder_retracted",
            "case_id": other,
            "clock": "decision",
            "due": other_due,
            "reason": "clock_gone",
        }
        await nothing_more(receiver, case_id, 1)
        await nothing_more(receiver, other, 1)
