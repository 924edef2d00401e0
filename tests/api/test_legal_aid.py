"""Legal aid routes: deadlines, the calendar feed, webhooks and their delivery log.

The real app over ASGI with a real worker on the dev server (so the read model is projected by
the workflows and reminders are sent by the real activity) and a real webhook receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, timedelta
from typing import Any

import icalendar
import pytest
from sqlmodel import Session, select

from db.tables import AuditRecord
from db.users import Role
from tests.api.helpers import NAMES, Api, ago, lodged_on, open_case, today
from tests.webhooks import WebhookReceiver


async def open_deadlines(api: Api, case_ids: list[str], within: int | None) -> set[tuple[Any, ...]]:
    """(case, clock, due, status) of the running/paused clocks, as the workflows hold them."""
    found: set[tuple[Any, ...]] = set()
    horizon = today() + timedelta(days=within) if within is not None else None
    for cid in case_ids:
        view = (await api.http.get(f"/cases/{cid}", headers=api.auth("cw"))).json()
        for d in view["deadlines"]:
            if d["status"] not in ("running", "paused"):
                continue
            if horizon is not None and date.fromisoformat(d["due"]) > horizon:
                continue
            found.add((cid, d["clock"], d["due"], d["status"]))
    return found


async def setup_orgs(api: Api) -> dict[str, list[str]]:
    """Cases of org-a (decision clock near its end; an appeal window), org-b, and no org."""
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("la-b", Role.LEGAL_AID, org="org-b")
    near = await open_case(api, "org-a", lodged_on(ago(months=3, days=-12)))
    appeal = await open_case(
        api,
        "org-a",
        [
            *lodged_on(ago(months=2)),
            ("decide", {"on": ago(4), "outcome": "rejected"}),
            ("notify_decision", {"on": ago(3)}),
        ],
    )
    other = await open_case(api, "org-b", lodged_on(ago(months=3, days=-5)))
    nobody = await open_case(api, None, lodged_on(ago(months=3, days=-3)))
    return {"org-a": [near, appeal], "org-b": [other], "none": [nobody]}


async def test_deadlines_are_the_orgs_own_sorted_by_due(api: Api) -> None:
    cases = await setup_orgs(api)
    everything = await open_deadlines(api, [c for ids in cases.values() for c in ids], None)
    assert {clock for _, clock, _, _ in everything} >= {
        "decision",
        "labour_market_access",
        "appeal",
    }

    async def items(who: str, within: int | None) -> list[dict[str, Any]]:
        query = "" if within is None else f"?within_days={within}"
        response = await api.http.get(f"/legal-aid/deadlines{query}", headers=api.auth(who))
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["items"]
        return found

    def keyed(found: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {(d["case_id"], d["clock"], d["due"], d["status"]) for d in found}

    for who, org in (("la-a", "org-a"), ("la-b", "org-b")):
        for within in (30, 365, None):
            expected = await open_deadlines(api, cases[org], 30 if within is None else within)

            async def caught_up(who: str = who, within: int | None = within) -> bool:
                return keyed(await items(who, within)) == expected  # noqa: B023

            await api.wait_for(caught_up, f"{who}'s deadlines within {within} days")
            found = await items(who, within)
            assert [d["due"] for d in found] == sorted(d["due"] for d in found)
            assert {d["case_id"] for d in found} <= set(cases[org])
    # Within 30 days: org-a's decision clock and appeal window, but not the labour-market date.
    near_a = await items("la-a", 30)
    assert {d["clock"] for d in near_a} == {"decision", "appeal"}
    far_a = await items("la-a", 365)
    assert "labour_market_access" in {d["clock"] for d in far_a}
    # Each item is the full deadline object with its provenance.
    appeal = next(d for d in near_a if d["clock"] == "appeal")
    assert appeal["actor"] == "applicant"
    assert appeal["trigger"] == "notified"
    assert appeal["citation"]
    assert appeal["rule"].startswith("rs-")

    assert (await api.http.get("/legal-aid/deadlines", headers=api.auth("cw"))).status_code == 403
    assert (await api.http.get("/legal-aid/deadlines")).status_code == 401
    bad = await api.http.get("/legal-aid/deadlines?within_days=-1", headers=api.auth("la-a"))
    assert bad.status_code == 422

    # Paged, one item at a time: the same list, and the unpaged answer is as it always was.
    whole = await api.http.get("/legal-aid/deadlines?within_days=365", headers=api.auth("la-a"))
    assert set(whole.json()) == {"items"}
    paged: list[dict[str, Any]] = []
    query = "?within_days=365&limit=1"
    while True:
        page = await api.http.get(f"/legal-aid/deadlines{query}", headers=api.auth("la-a"))
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 1
        paged += page.json()["items"]
        following = page.json()["next_cursor"]
        if following is None:
            break
        query = f"?within_days=365&limit=1&cursor={following}"
    assert paged == whole.json()["items"] and len(paged) >= 3
    # An empty cursor is no cursor (as in the supervision lists).
    empty = await api.http.get(
        "/legal-aid/deadlines?within_days=365&cursor=", headers=api.auth("la-a")
    )
    assert empty.json() == whole.json()
    for wrong in ("cursor=nonsense!", "limit=0", "limit=501"):
        refused = await api.http.get(f"/legal-aid/deadlines?{wrong}", headers=api.auth("la-a"))
        assert refused.status_code == 422, wrong
        assert wrong.split("=")[0] in refused.text


async def test_assign_legal_aid_moves_the_cases_deadlines(api: Api) -> None:
    """The deadlines carry their case's org (migration 0018): a new org takes them along."""
    cases = await setup_orgs(api)
    [other], [nobody] = cases["org-b"], cases["none"]

    async def listed(who: str) -> set[tuple[Any, ...]]:
        response = await api.http.get("/legal-aid/deadlines?within_days=365", headers=api.auth(who))
        assert response.status_code == 200, response.text
        return {(d["case_id"], d["clock"], d["due"], d["status"]) for d in response.json()["items"]}

    for case_id, org in ((other, "org-a"), (nobody, "org-b")):
        moved = await api.http.post(
            f"/cases/{case_id}/actions/assign_legal_aid",
            json={"on": today().isoformat(), "org": org},
            headers=api.auth("cw"),
        )
        assert moved.status_code == 200, moved.text
    for who, mine in (("la-a", [*cases["org-a"], other]), ("la-b", [nobody])):
        expected = await open_deadlines(api, mine, 365)
        assert {case_id for case_id, *_ in expected} == set(mine)

        async def caught_up(who: str = who, expected: set[tuple[Any, ...]] = expected) -> bool:
            return await listed(who) == expected

        await api.wait_for(caught_up, f"{who}'s deadlines after the cases moved")


async def test_calendar_feed_and_secret_rotation(api: Api) -> None:
    cases = await setup_orgs(api)
    mine = await open_deadlines(api, cases["org-a"], None)
    others = {*cases["org-b"], *cases["none"]}

    async def calendar(**kwargs: Any) -> icalendar.Calendar:
        response = await api.http.get("/legal-aid/calendar.ics", **kwargs)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/calendar")
        text = response.text
        for name in NAMES:
            assert name not in text
        for cid in others:
            assert cid not in text
        return icalendar.Calendar.from_ical(response.content)

    async def projected() -> bool:
        events = (await calendar(headers=api.auth("la-a"))).walk("VEVENT")
        return len(events) == len(mine)

    await api.wait_for(projected, "org-a's deadlines in the read model")
    cal = await calendar(headers=api.auth("la-a"))
    events = cal.walk("VEVENT")
    # Exactly one all-day event per running or paused deadline of the org's cases.
    assert sorted((str(e["UID"]), e.decoded("DTSTART").isoformat()) for e in events) == sorted(
        (f"{cid}-{clock}@asylumflow", due) for cid, clock, due, _ in mine
    )
    for event in events:
        start = event.decoded("DTSTART")
        assert type(start) is date  # all-day, not a datetime
        assert event.decoded("DTEND") == start + timedelta(days=1)
        case_id, clock = str(event["UID"]).removesuffix("@asylumflow").split("-", 1)
        # The clock and the case reference, nothing else.
        assert str(event["SUMMARY"]) == f"{clock} - case {case_id}"
        triggers = sorted(a.decoded("TRIGGER") for a in event.walk("VALARM"))
        assert triggers == [timedelta(days=-7), timedelta(days=-2)]

    # No token, a wrong role, a bogus secret: refused.
    assert (await api.http.get("/legal-aid/calendar.ics")).status_code == 401
    staff = await api.http.get("/legal-aid/calendar.ics", headers=api.auth("cw"))
    assert staff.status_code == 403
    bogus = await api.http.get("/legal-aid/calendar.ics", params={"feed": "nope"})
    assert bogus.status_code == 401

    # A feed secret works without a token; a new one replaces it.
    first = await api.http.post("/legal-aid/feed-secret", headers=api.auth("la-a"))
    assert first.status_code == 200, first.text
    assert first.json()["feed_url"].endswith(
        f"/legal-aid/calendar.ics?feed={first.json()['secret']}"
    )
    by_feed = await calendar(params={"feed": first.json()["secret"]})
    assert sorted(str(e["UID"]) for e in by_feed.walk("VEVENT")) == sorted(
        str(e["UID"]) for e in events
    )
    via_url = await api.http.get(first.json()["feed_url"])
    assert via_url.status_code == 200
    second = await api.http.post("/legal-aid/feed-secret", headers=api.auth("la-a"))
    assert second.json()["secret"] != first.json()["secret"]
    old = await api.http.get("/legal-aid/calendar.ics", params={"feed": first.json()["secret"]})
    assert old.status_code == 401
    await calendar(params={"feed": second.json()["secret"]})
    # Reads through the feed are audited as the user's feed (no query string: no secret).
    with Session(api.engine) as session:
        audited = session.exec(
            select(AuditRecord).where(AuditRecord.user_name == "feed:la-a")
        ).all()
    assert len(audited) == 3
    assert {(a.route, a.status, a.kind) for a in audited} == {
        ("/legal-aid/calendar.ics", 200, "read")
    }
    # org-b's own secret shows org-b's cases only.
    b_secret = (await api.http.post("/legal-aid/feed-secret", headers=api.auth("la-b"))).json()
    b_cal = await api.http.get("/legal-aid/calendar.ics", params={"feed": b_secret["secret"]})
    assert b_cal.status_code == 200
    b_uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(b_cal.content).walk("VEVENT")}
    assert b_uids and all(uid.startswith(cases["org-b"][0]) for uid in b_uids)
    assert (
        await api.http.post("/legal-aid/feed-secret", headers=api.auth("cw"))
    ).status_code == 403


async def test_reminder_webhook_and_its_delivery_log(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("la-b", Role.LEGAL_AID, org="org-b")
    with WebhookReceiver(fail_first=1) as receiver:
        created = await api.http.post(
            "/legal-aid/webhooks", json={"url": f"{receiver.url}/a"}, headers=api.auth("la-a")
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        assert set(hook) >= {"id", "secret"}
        b_hook = await api.http.post(
            "/legal-aid/webhooks", json={"url": f"{receiver.url}/b"}, headers=api.auth("la-b")
        )
        assert b_hook.status_code == 201

        # Lodged 3 months less 4 days ago: the decision clock ends in 4 to 6 days (rolling), so
        # its 7-day reminder is due at once and its 2-day one not yet.
        case_id = await open_case(api, "org-a", lodged_on(ago(months=3, days=-4)))
        view = (await api.http.get(f"/cases/{case_id}", headers=api.auth("cw"))).json()
        due = next(d["due"] for d in view["deadlines"] if d["clock"] == "decision")
        days_left = (date.fromisoformat(due) - today()).days
        assert 2 < days_left <= 7

        (reminder,) = await receiver.wait_accepted(1)
        assert reminder.path == "/a"
        expected = hmac.new(hook["secret"].encode(), reminder.body, hashlib.sha256).hexdigest()
        assert reminder.headers["x-asylumflow-signature"] == f"sha256={expected}"
        assert json.loads(reminder.body) == {
            "kind": "reminder",
            "case_id": case_id,
            "clock": "decision",
            "due": due,
            "days_left": days_left,
        }
        for name in NAMES:
            assert name.encode() not in reminder.body
        # The first POST got a 500 and was retried; org-b's webhook got nothing.
        assert [(r.path, r.status) for r in receiver.requests] == [("/a", 500), ("/a", 200)]

    url = f"/legal-aid/webhooks/{hook['id']}/deliveries"

    async def both_logged() -> bool:
        response = await api.http.get(url, headers=api.auth("la-a"))
        return response.status_code == 200 and len(response.json()["items"]) == 2

    await api.wait_for(both_logged, "both delivery attempts in the log")
    log = (await api.http.get(url, headers=api.auth("la-a"))).json()["items"]
    assert [(d["attempt"], d["status_code"], d["ok"]) for d in log] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert {(d["case_id"], d["clock"], d["due"], d["days_left"]) for d in log} == {
        (case_id, "decision", due, days_left)
    }
    assert log[0]["error"] == "HTTP 500"
    # Pages continue with the cursor.
    page = (await api.http.get(url, params={"limit": 1}, headers=api.auth("la-a"))).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = await api.http.get(
        url, params={"limit": 5, "cursor": page["next_cursor"]}, headers=api.auth("la-a")
    )
    assert [d["attempt"] for d in rest.json()["items"]] == [2]
    # Another org's webhook is as unknown as a missing one; org-b's own log is empty.
    assert (await api.http.get(url, headers=api.auth("la-b"))).status_code == 404
    missing = await api.http.get("/legal-aid/webhooks/999999/deliveries", headers=api.auth("la-a"))
    assert missing.status_code == 404
    b_log = await api.http.get(
        f"/legal-aid/webhooks/{b_hook.json()['id']}/deliveries", headers=api.auth("la-b")
    )
    assert b_log.json()["items"] == []
    # Listing shows no secrets; deactivating stays within the org.
    listed = (await api.http.get("/legal-aid/webhooks", headers=api.auth("la-a"))).json()
    assert [w["id"] for w in listed["items"]] == [hook["id"]]
    assert "secret" not in listed["items"][0]
    gone = await api.http.delete(f"/legal-aid/webhooks/{hook['id']}", headers=api.auth("la-b"))
    assert gone.status_code == 404
    off = await api.http.delete(f"/legal-aid/webhooks/{hook['id']}", headers=api.auth("la-a"))
    assert off.status_code == 204
    listed = (await api.http.get("/legal-aid/webhooks", headers=api.auth("la-a"))).json()
    assert listed["items"][0]["active"] is False


async def test_webhook_registration_is_validated(api: Api) -> None:
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    api.user("cw", Role.CASEWORKER)
    for body in ({"url": "ftp://example.org/x"}, {"url": "not a url"}, {}):
        response = await api.http.post("/legal-aid/webhooks", json=body, headers=api.auth("la-a"))
        assert response.status_code == 422, body
    staff = await api.http.post(
        "/legal-aid/webhooks", json={"url": "https://example.org/x"}, headers=api.auth("cw")
    )
    assert staff.status_code == 403


async def test_webhooks_on_internal_addresses_are_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("la-a", Role.LEGAL_AID, org="org-a")
    # As deployed: private hosts not allowed (the fixture allows them for its receivers).
    settings = api.app.state.settings.model_copy(update={"webhook_private_hosts": False})
    monkeypatch.setattr(api.app.state, "settings", settings)
    for url in ("http://127.0.0.1:7233/x", "http://169.254.169.254/latest", "http://[::1]/x"):
        response = await api.http.post(
            "/legal-aid/webhooks", json={"url": url}, headers=api.auth("la-a")
        )
        assert response.status_code == 422, url
        body = response.json()
        assert body["field"] == "url" and "non-public address" in body["detail"], body
    listed = await api.http.get("/legal-aid/webhooks", headers=api.auth("la-a"))
    assert listed.json()["items"] == []  # nothing was stored
    public = await api.http.post(
        "/legal-aid/webhooks", json={"url": "https://93.184.215.14/x"}, headers=api.auth("la-a")
    )
    assert public.status_code == 201, public.text
