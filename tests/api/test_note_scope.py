"""Issue 21 finding 8: a note belongs to its author's organisation.

Legal aid reads its own organisation's notes only; when a case moves to another organisation,
the new one does not see the old one's contact notes, and the old one loses the case's webhook
delivery rows with the case.
"""

from __future__ import annotations

from typing import Any

from db.users import Role
from tests.api.helpers import Api, ago, lodged_on, open_case, today
from tests.webhooks import WebhookReceiver

SECRET_NOTE = "client fled from the north, brother still there"
STAFF_NOTE = "internal: interpreter needed"
NEW_NOTE = "first meeting with the new office"


async def history(api: Api, who: str, case_id: str) -> list[dict[str, Any]]:
    answer = await api.http.get(f"/cases/{case_id}/history", headers=api.auth(who))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_notes_and_deliveries_follow_the_org(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("la-b", Role.LEGAL_AID, org="org-b")
    with WebhookReceiver() as receiver:
        hook = await api.http.post(
            "/legal-aid/webhooks", json={"url": f"{receiver.url}/a"}, headers=api.auth("la-a")
        )
        assert hook.status_code == 201
        # The decision clock ends within a week: org-a's webhook gets a reminder at once.
        case_id = await open_case(api, "org-a", lodged_on(ago(months=3, days=-4)))
        await receiver.wait_accepted(1)
    deliveries = f"/legal-aid/webhooks/{hook.json()['id']}/deliveries"

    async def delivered() -> bool:
        items = (await api.http.get(deliveries, headers=api.auth("la-a"))).json()["items"]
        return any(d["case_id"] == case_id for d in items)

    await api.wait_for(delivered, "org-a's delivery row")

    for who, note in (("la-a", SECRET_NOTE), ("cw", STAFF_NOTE)):
        answer = await api.http.post(
            f"/cases/{case_id}/actions/record_contact",
            json={"on": ago(1), "note": note},
            headers=api.auth(who),
        )
        assert answer.status_code == 200, answer.text

    # While the case is org-a's: org-a reads its own note, not the authority's.
    notes = {e["note"] for e in await history(api, "la-a", case_id)}
    assert SECRET_NOTE in notes and STAFF_NOTE not in notes
    tagged = {e["note"]: e["note_org"] for e in await history(api, "cw", case_id) if e["note"]}
    assert tagged[SECRET_NOTE] == "org-a" and tagged[STAFF_NOTE] is None

    moved = await api.http.post(
        f"/cases/{case_id}/actions/assign_legal_aid",
        json={"on": today().isoformat(), "org": "org-b"},
        headers=api.auth("cw"),
    )
    assert moved.status_code == 200, moved.text

    # The new org sees the acts, not what org-a's lawyers (or the authority) wrote.
    seen_by_b = await history(api, "la-b", case_id)
    assert "record_contact" in {e["action"] for e in seen_by_b}
    assert SECRET_NOTE not in str(seen_by_b) and STAFF_NOTE not in str(seen_by_b)
    answer = await api.http.post(
        f"/cases/{case_id}/actions/record_contact",
        json={"on": today().isoformat(), "note": NEW_NOTE},
        headers=api.auth("la-b"),
    )
    assert answer.status_code == 200, answer.text
    assert NEW_NOTE in {e["note"] for e in await history(api, "la-b", case_id)}
    # Staff still read every note.
    staff_notes = {e["note"] for e in await history(api, "cw", case_id)}
    assert {SECRET_NOTE, STAFF_NOTE, NEW_NOTE} <= staff_notes

    # The old org lost the case, and the delivery rows naming it with it.
    assert (await api.http.get(f"/cases/{case_id}", headers=api.auth("la-a"))).status_code == 404
    rows = (await api.http.get(deliveries, headers=api.auth("la-a"))).json()["items"]
    assert case_id not in {d["case_id"] for d in rows}
