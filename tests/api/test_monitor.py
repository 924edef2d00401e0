"""The monitor role (issue #20): statistics, and case files only with the person's consent.

The real app over ASGI with a real worker on the dev server: consent is an action the case
workflow records, and the monitor's reads are answered from the workflow's view.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from db.tables import AuditRecord
from db.users import Role
from tests.api.helpers import NAMES, Api, act, ago, create, fetch_history

MON = "mon"


def users(api: Api) -> None:
    """A caseworker, a supervisor, a border officer, a legal aid lawyer and a monitor."""
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    api.user("officer", Role.BORDER_OFFICER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user(MON, Role.MONITOR)


async def monitor_reads(api: Api, case_id: str) -> tuple[int, int]:
    """The statuses of the monitor's `GET /cases/{id}` and `GET /cases/{id}/history`."""
    view = await api.http.get(f"/cases/{case_id}", headers=api.auth(MON))
    history = await api.http.get(f"/cases/{case_id}/history", headers=api.auth(MON))
    return view.status_code, history.status_code


async def consent(api: Api, who: str, case_id: str, given: bool, **extra: Any) -> Any:
    """`record_monitor_consent` as `who`: the raw response."""
    return await api.http.post(
        f"/cases/{case_id}/actions/record_monitor_consent",
        json={"on": ago(0), "given": given, **extra},
        headers=api.auth(who),
    )


async def test_consent_opens_the_file_and_revocation_closes_it(api: Api) -> None:
    users(api)
    case_id = (await create(api, "cw", legal_aid_org="org-a"))["id"]
    never = (await create(api, "cw"))["id"]
    # Never consented: 404 with the very answer an unknown id gets (it must not learn it exists).
    unknown = await api.http.get("/cases/no-such-case", headers=api.auth(MON))
    hidden = await api.http.get(f"/cases/{never}", headers=api.auth(MON))
    assert (hidden.status_code, hidden.json()) == (404, unknown.json())
    assert await monitor_reads(api, never) == (404, 404)
    assert await monitor_reads(api, case_id) == (404, 404)

    before = (await api.http.get(f"/cases/{case_id}", headers=api.auth("cw"))).json()
    assert before["monitor_consent"] is False
    given = await consent(api, "cw", case_id, True, note="signed form in the file")
    assert given.status_code == 200, given.text
    assert given.json()["monitor_consent"] is True
    # Consent is not a procedural step: the stage and its date stay as they were.
    assert (given.json()["stage"], given.json()["stage_since"]) == (
        before["stage"],
        before["stage_since"],
    )

    view = await api.http.get(f"/cases/{case_id}", headers=api.auth(MON))
    assert view.status_code == 200, view.text
    shown = view.json()
    assert (shown["person"]["given_name"], shown["person"]["family_name"]) == NAMES[:2]
    assert shown["monitor_consent"] is True
    history = await fetch_history(api, MON, case_id)
    acts = [e for e in history if e["action"] == "record_monitor_consent"]
    assert len(acts) == 1
    assert (acts[0]["actor"], acts[0]["event"], acts[0]["data"]) == ("cw", None, {"given": True})
    # The monitor reads acts and dates, not what the authority wrote about the person.
    assert acts[0]["note"] is None
    staff_view = await fetch_history(api, "cw", case_id)
    assert [e["note"] for e in staff_view if e["action"] == "record_monitor_consent"] == [
        "signed form in the file"
    ]

    revoked = await consent(api, "sup", case_id, False)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["monitor_consent"] is False
    assert revoked.json()["stage"] == before["stage"]
    assert await monitor_reads(api, case_id) == (404, 404)
    # Both acts stay in the history, in the order given.
    data = [
        e["data"]
        for e in await fetch_history(api, "cw", case_id, order="recorded")
        if e["action"] == "record_monitor_consent"
    ]
    assert data == [{"given": True}, {"given": False}]


async def test_consent_on_a_withdrawn_case_keeps_it_withdrawn(api: Api) -> None:
    users(api)
    case_id = (await create(api, "cw"))["id"]
    await act(api, "cw", case_id, "withdraw", on=ago(0))
    given = await consent(api, "cw", case_id, True)
    assert given.status_code == 200, given.text
    assert (given.json()["stage"], given.json()["monitor_consent"]) == ("withdrawn", True)
    assert await monitor_reads(api, case_id) == (200, 200)


async def test_who_may_record_consent(api: Api) -> None:
    users(api)
    # The officer opened it and legal aid represents it: both read it, neither records consent.
    case_id = (await create(api, "officer", legal_aid_org="org-a"))["id"]
    for who in ("officer", "la-a", MON):
        refused = await consent(api, who, case_id, True)
        assert refused.status_code == 403, (who, refused.text)
        if who != MON:  # the monitor is refused earlier, as a role that takes no action
            assert refused.json()["allowed_roles"] == ["caseworker", "supervisor"]
    assert await monitor_reads(api, case_id) == (404, 404)


async def test_monitor_reads_statistics_and_nothing_else(api: Api) -> None:
    users(api)
    case_id = (await create(api, "cw"))["id"]
    assert (await consent(api, "cw", case_id, True)).status_code == 200
    allowed = [
        "/stats",
        "/stats?format=csv",
        "/stats/eurostat",
        "/stats/eurostat/applicants?from=2025-01&to=2025-06",
        "/stats/export",
    ]
    for url in allowed:
        response = await api.http.get(url, headers=api.auth(MON))
        assert response.status_code == 200, (url, response.text)
    refused: list[tuple[str, str, Any]] = [
        ("GET", "/cases", None),
        ("POST", "/cases/search", {"q": NAMES[0]}),
        ("POST", "/cases", {"jurisdiction": "rs"}),
        ("GET", "/duplicates", None),
        ("GET", "/supervision/overdue", None),
        ("GET", "/supervision/stuck", None),
        ("POST", f"/cases/{case_id}/actions/record_contact", {"on": ago(0)}),
        ("POST", f"/cases/{case_id}/actions", {"actions": [{"action": "close", "on": ago(0)}]}),
        ("GET", "/legal-aid/deadlines", None),
        ("GET", "/users", None),
        ("GET", "/audit", None),
    ]
    for method, url, body in refused:
        response = await api.http.request(method, url, json=body, headers=api.auth(MON))
        assert response.status_code == 403, (method, url, response.text)


async def test_the_monitors_reads_are_audited(api: Api) -> None:
    users(api)
    case_id = (await create(api, "cw"))["id"]
    never = (await create(api, "cw"))["id"]
    assert (await consent(api, "cw", case_id, True)).status_code == 200
    assert await monitor_reads(api, case_id) == (200, 200)
    assert await monitor_reads(api, never) == (404, 404)
    assert (await api.http.get("/stats", headers=api.auth(MON))).status_code == 200
    with Session(api.engine) as session:
        rows = session.exec(select(AuditRecord).where(AuditRecord.user_name == MON)).all()
    seen = {(r.role, r.kind, r.method, r.route, r.case_id, r.status) for r in rows}
    assert seen == {
        ("monitor", "read", "GET", "/cases/{case_id}", case_id, 200),
        ("monitor", "read", "GET", "/cases/{case_id}/history", case_id, 200),
        ("monitor", "read", "GET", "/cases/{case_id}", never, 404),
        ("monitor", "read", "GET", "/cases/{case_id}/history", never, 404),
        ("monitor", "read", "GET", "/stats", None, 200),
    }


async def test_an_admin_creates_a_monitor(api: Api) -> None:
    api.user("admin", Role.ADMIN)
    made = await api.http.post(
        "/users", json={"name": "unhcr-1", "role": "monitor"}, headers=api.auth("admin")
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    stats = await api.http.get("/stats", headers={"Authorization": f"Bearer {token}"})
    assert stats.status_code == 200, stats.text
    # A monitor belongs to no legal aid organisation.
    with_org = await api.http.post(
        "/users",
        json={"name": "unhcr-2", "role": "monitor", "org": "org-a"},
        headers=api.auth("admin"),
    )
    assert with_org.status_code == 422, with_org.text
