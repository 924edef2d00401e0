"""Legal time over HTTP against a real worker: the record follows the legal dates of acts.

One test per case of the legal-time issue that the API must get right, each typed in late, as
offices do: the README's walkthrough entered one act at a time weeks later, an appeal lodged in
time but recorded after the window closed, a late delivery corrected after finality, a decision
taken after its deadline, final cases kept out of the overdue and abandoned lists, and bad
`identified_on` values refused before they reach a workflow.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from db.users import Role
from tests.api.helpers import Api, act, ago, caught_up, create, fetch_history

CW, SUP = "cw", "sup"


def _items(history: list[dict[str, Any]], action: str, *, retracted: bool) -> list[str]:
    return [e["on"] for e in history if e["action"] == action and e["retracted"] is retracted]


def _clock(case: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in case["deadlines"] if d["clock"] == name)


async def test_readme_walkthrough_typed_in_weeks_later(api: Api) -> None:
    """Case 1: identified, made 1 Sep, registered 2 Sep, lodged 5 Sep, typed in December."""
    api.user(CW, Role.CASEWORKER)
    cid = (await create(api, CW, identified_on="2026-09-01"))["id"]
    await act(api, CW, cid, "make_application", on="2026-09-01")
    await act(api, CW, cid, "register", on="2026-09-02")
    case = await act(api, CW, cid, "lodge", on="2026-09-05")
    assert case["stage"] == "lodged"
    assert _clock(case, "lodging")["status"] == "met"
    history = await fetch_history(api, CW, cid)
    # The expiry concluded while lodging was not yet typed in (due 17 Sep) was false.
    assert _items(history, "deadline_expired", retracted=True) == ["2026-09-18"]
    assert _items(history, "deadline_expired", retracted=False) == []
    # The early presumptions were retracted; one stands, 30 days after the lodging (5 Sep).
    assert _items(history, "presumed_abandoned", retracted=False) == ["2026-10-05"]
    assert "2026-10-01" in _items(history, "presumed_abandoned", retracted=True)
    assert "presumed_abandoned" in case["flags"]
    # In legal order: 2 Sep before 1 Oct whatever the typing order, acts before derived items.
    keys = [(e["on"], e["derived"], e["seq"]) for e in history]
    assert keys == sorted(keys)
    retracted = [e for e in history if e["retracted"]]
    assert all(e["derived"] and e["retracted_by"] is not None for e in retracted)
    # A recorded interview (an applicant-side act) lifts the presumption, as the README says.
    await act(api, CW, cid, "schedule_interview", on="2026-09-20", interview_on="2026-10-02")
    case = await act(api, CW, cid, "record_interview", on="2026-10-02", attended=True)
    assert "presumed_abandoned" not in case["flags"] or case["last_contact_on"] == "2026-10-02"


async def _rejected_and_notified(api: Api, notified_days_ago: int) -> str:
    cid: str = (await create(api, CW, identified_on=ago(notified_days_ago + 40)))["id"]
    response = await api.http.post(
        f"/cases/{cid}/actions",
        json={
            "actions": [
                {"action": "make_application", "on": ago(notified_days_ago + 40)},
                {"action": "register", "on": ago(notified_days_ago + 39)},
                {"action": "lodge", "on": ago(notified_days_ago + 38)},
                {"action": "decide", "on": ago(notified_days_ago + 1), "outcome": "rejected"},
                {"action": "notify_decision", "on": ago(notified_days_ago)},
            ]
        },
        headers=api.auth(CW),
    )
    assert response.status_code == 200, response.text
    return cid


async def test_appeal_in_time_recorded_after_the_window_is_accepted(api: Api) -> None:
    """Case 2: notified 20 days ago (15-day window), appealed 10 days ago, typed in today."""
    api.user(CW, Role.CASEWORKER)
    cid = await _rejected_and_notified(api, 20)
    case = (await api.http.get(f"/cases/{cid}", headers=api.auth(CW))).json()
    assert case["stage"] == "return" and case["final"] is True
    await act(api, CW, cid, "start_return", on=ago(0))
    case = await act(api, CW, cid, "lodge_appeal", on=ago(10))
    assert case["stage"] == "appeal_lodged" and case["final"] is False
    assert _clock(case, "appeal")["status"] == "met"
    history = await fetch_history(api, CW, cid)
    appeal = next(e for e in history if e["action"] == "lodge_appeal")
    for action in ("decision_final", "start_return"):
        gone = [e for e in history if e["action"] == action]
        assert gone and all(e["retracted"] for e in gone), action
        assert {e["retracted_by"] for e in gone} == {appeal["seq"]}


async def test_late_appeal_refused_where_a_departure_stands(api: Api) -> None:
    api.user(CW, Role.CASEWORKER)
    cid = await _rejected_and_notified(api, 40)
    for action, fields in [
        ("start_return", {}),
        ("record_return_consent", {}),
        ("record_risk_assessment", {"at_risk": False}),
        ("record_departure", {}),
    ]:
        await act(api, CW, cid, action, on=ago(5), **fields)
    refused = await api.http.post(
        f"/cases/{cid}/actions/lodge_appeal", json={"on": ago(30)}, headers=api.auth(CW)
    )
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["stage"] == "return"
    assert body["conflict"]["action"] == "record_departure"
    assert body["conflict"]["on"] == ago(5)


async def test_late_delivery_corrected_after_finality_reopens_the_window(api: Api) -> None:
    """Case 3: `correct_event` moves `notified` later even after the decision became final."""
    api.user(CW, Role.CASEWORKER)
    cid = await _rejected_and_notified(api, 30)
    case = await act(api, CW, cid, "correct_event", on=ago(0), event="notified", date=ago(3))
    assert case["stage"] == "notified" and case["final"] is False
    assert _clock(case, "appeal")["status"] == "running"
    history = await fetch_history(api, CW, cid)
    assert _items(history, "decision_final", retracted=False) == []
    assert _items(history, "decision_final", retracted=True)


async def test_retract_event_takes_out_a_mistaken_pause(api: Api) -> None:
    api.user(CW, Role.CASEWORKER)
    cid = (await create(api, CW, identified_on=ago(100)))["id"]
    await act(api, CW, cid, "make_application", on=ago(100))
    await act(api, CW, cid, "register", on=ago(99))
    case = await act(api, CW, cid, "lodge", on=ago(98))
    due = _clock(case, "labour_market_access")["due"]
    await act(api, CW, cid, "pause_clock", on=ago(50), reason="x", attributable_to="applicant")
    case = await act(api, CW, cid, "resume_clock", on=ago(40))
    assert _clock(case, "labour_market_access")["due"] != due
    pause = next(e for e in await fetch_history(api, CW, cid) if e["action"] == "pause_clock")
    case = await act(api, CW, cid, "retract_event", on=ago(0), seq=pause["seq"], reason="typo")
    assert _clock(case, "labour_market_access")["due"] == due
    history = await fetch_history(api, CW, cid, order="recorded")
    retraction = next(e for e in history if e["action"] == "retract_event")
    for action in ("pause_clock", "resume_clock"):
        entry = next(e for e in history if e["action"] == action)
        assert entry["retracted"] and entry["retracted_by"] == retraction["seq"]
    # Not twice, not a derived item, not the creation, not a retraction: 422 on `seq`.
    for seq in (pause["seq"], 1, retraction["seq"], 10_000):
        bad = await api.http.post(
            f"/cases/{cid}/actions/retract_event",
            json={"on": ago(0), "seq": seq, "reason": "again"},
            headers=api.auth(CW),
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["field"] == "seq"
    # An act that a later act depends on: 409 naming the dependant.
    register = next(e for e in history if e["action"] == "register")
    needed = await api.http.post(
        f"/cases/{cid}/actions/retract_event",
        json={"on": ago(0), "seq": register["seq"], "reason": "wrong"},
        headers=api.auth(CW),
    )
    assert needed.status_code == 409, needed.text
    assert needed.json()["conflict"]["action"] == "lodge"


async def test_a_decision_after_its_deadline_is_late(api: Api) -> None:
    """Case 6: rs decides within 3 months of lodging; a decision 5 months on is `late`."""
    api.user(CW, Role.CASEWORKER)
    cid = (await create(api, CW, identified_on=ago(200)))["id"]
    await act(api, CW, cid, "make_application", on=ago(200))
    await act(api, CW, cid, "register", on=ago(199))
    await act(api, CW, cid, "lodge", on=ago(198))
    case = await act(api, CW, cid, "decide", on=ago(48), outcome="refugee_status")
    decision = _clock(case, "decision")
    assert decision["status"] == "late"
    due = date.fromisoformat(decision["due"])
    assert decision["days_late"] == (date.fromisoformat(ago(48)) - due).days > 0


async def test_final_cases_are_neither_overdue_nor_abandoned(api: Api) -> None:
    """Case 5: the supervisor's lists hold only cases whose clocks and watch still run."""
    api.user(CW, Role.CASEWORKER)
    api.user(SUP, Role.SUPERVISOR)
    # A rejection notified long ago (final, in return) with no contact since: not abandoned,
    # and its expired clocks are breaches on record, not tasks.
    final = await _rejected_and_notified(api, 200)
    # A case left lodged with no decision and no contact: overdue and presumed abandoned.
    stale = (await create(api, CW, identified_on=ago(300)))["id"]
    await act(api, CW, stale, "make_application", on=ago(300))
    await act(api, CW, stale, "register", on=ago(299))
    await act(api, CW, stale, "lodge", on=ago(298))
    # A withdrawn eu case whose registration clock had run out: missed, not overdue.
    withdrawn = (await create(api, CW, jurisdiction="eu", identified_on=ago(60)))["id"]
    await act(api, CW, withdrawn, "make_application", on=ago(60))
    case = await act(api, CW, withdrawn, "withdraw", on=ago(30))
    assert _clock(case, "registration")["status"] == "missed"
    assert "overdue" not in case["flags"]
    await caught_up(api, [final, stale, withdrawn])
    for route in ("overdue", "abandoned"):
        response = await api.http.get(f"/supervision/{route}?limit=500", headers=api.auth(SUP))
        assert response.status_code == 200, response.text
        listed = {i["id"]: i["stage"] for i in response.json()["items"]}
        assert stale in listed, route
        assert final not in listed and withdrawn not in listed, route
        closed = {"decided", "integration", "return", "closed", "withdrawn"}
        assert not closed & set(listed.values()), (route, listed)


async def test_identified_on_before_the_earliest_pack_is_refused(api: Api) -> None:
    """Case 8: nothing the API accepts may fail a workflow."""
    api.user(CW, Role.CASEWORKER)
    for value in ("2000-01-01", 0):
        response = await api.http.post(
            "/cases",
            json={
                "jurisdiction": "rs",
                "person": {"given_name": "A", "family_name": "B", "sex": "unknown"},
                "identified_on": value,
            },
            headers=api.auth(CW),
        )
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["field"] == "identified_on", body
    early = await api.http.post(
        "/cases",
        json={
            "jurisdiction": "rs",
            "person": {"given_name": "A", "family_name": "B", "sex": "unknown"},
            "identified_on": "2000-01-01",
        },
        headers=api.auth(CW),
    )
    assert "2018" in early.text  # the earliest rs pack's first day is named
    # Dates in action bodies are ISO strings only.
    cid = (await create(api, CW, identified_on=ago(10)))["id"]
    numeric = await api.http.post(
        f"/cases/{cid}/actions/make_application", json={"on": 0}, headers=api.auth(CW)
    )
    assert numeric.status_code == 422, numeric.text
