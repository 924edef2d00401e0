"""Issue #19 (protection track b) over HTTP against a real worker: detention, reception, documents.

- A detained applicant under eu-2024: ordered (the `detention_review` clock, RCD 2024 Art 11(3)),
  shown on the supervisor's detained list with the next review date and the vulnerable flag,
  reviewed, released, and gone from the list; the ground is in no workflow history (searched as
  the names are in test_cases_api) and only in SQL.
- A centre of one place given two people: both accommodated, the second flagged
  `over_capacity` (case and centre); ending the first accommodation frees the place.
- The applicant's document during the procedure (`issue_document {kind: applicant_document}`)
  meets the eu-2013 `applicant_document` clock (RCD Art 6(1)).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from core.sealed import PREFIX
from db.reception import detention_grounds
from db.tables import DetentionOrderRecord
from db.users import Role
from tests.api.helpers import Api, act, ago, create, fetch_history

GROUND = "Ground-Sentinel-7Q: risk of absconding, Art 10(4)(b)"
"""A detention ground to search for in the workflow histories (special-category data)."""


def users(api: Api) -> None:
    """A caseworker, a supervisor and an admin."""
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    api.user("admin", Role.ADMIN)


def deadline(view: dict[str, Any], clock: str) -> dict[str, Any] | None:
    """The case's deadline of `clock` (None when the case has none)."""
    return next((d for d in view["deadlines"] if d["clock"] == clock), None)


def rolled(day: date) -> date:
    """The eu packs' calendar: an act due on a weekend rolls to Monday."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def detained_items(api: Api) -> dict[str, dict[str, Any]]:
    """The supervisor's detained list, by case id."""
    response = await api.http.get("/supervision/detained", headers=api.auth("sup"))
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


async def eu_2024_applicant(api: Api, **overrides: Any) -> str:
    """An application made, registered and lodged 40 days ago (under eu-2024)."""
    case_id: str = (await create(api, "cw", jurisdiction="eu", identified_on=ago(41), **overrides))[
        "id"
    ]
    await act(api, "cw", case_id, "make_application", on=ago(41))
    await act(api, "cw", case_id, "register", on=ago(40))
    lodged = await act(api, "cw", case_id, "lodge", on=ago(40))
    assert lodged["rule_pack"]["id"] == "eu-2024"
    return case_id


async def test_detained_applicant_reviewed_and_released(api: Api) -> None:
    users(api)
    case_id = await eu_2024_applicant(api, vulnerabilities=["torture_survivor"])

    # The ground is required, and kept out of the case.
    missing = await api.http.post(
        f"/cases/{case_id}/actions/order_detention", json={"on": ago(12)}, headers=api.auth("cw")
    )
    assert (missing.status_code, missing.json()["field"]) == (422, "ground"), missing.text
    ordered = await act(api, "cw", case_id, "order_detention", on=ago(12), ground=GROUND)
    assert ordered["detention"] == {"status": "detained", "since": ago(12)}
    assert {"detained", "vulnerable", "vulnerable_in_detention"} <= set(ordered["flags"])
    review = deadline(ordered, "detention_review")
    assert review is not None
    # RCD 2024 Art 11(3): concluded no later than 15 days from the beginning of detention.
    due = rolled(date.fromisoformat(ago(12)) + timedelta(days=15))
    assert (review["due"], review["period"], review["status"]) == (
        due.isoformat(),
        "15 days",
        "running",
    )
    assert (review["trigger"], review["trigger_date"]) == ("detained", ago(12))
    assert review["citation"] == "Directive (EU) 2024/1346 Art 11(3)"

    listed = (await detained_items(api))[case_id]
    assert listed["detention"] == "detained"
    assert (listed["next_review_due"], listed["review_status"]) == (due.isoformat(), "running")
    assert listed["vulnerable"] is True

    reviewed = await act(api, "cw", case_id, "review_detention", on=ago(5), continued=True)
    review = deadline(reviewed, "detention_review")
    assert review is not None and review["status"] == "met"
    listed = (await detained_items(api))[case_id]
    # Still detained; RCD 2024 sets no figure for later reviews ("reasonable intervals").
    assert (listed["next_review_due"], listed["review_status"]) == (None, None)

    released = await act(api, "cw", case_id, "release_from_detention", on=ago(2))
    assert released["detention"] is None
    assert not {"detained", "vulnerable_in_detention"} & set(released["flags"])
    assert case_id not in await detained_items(api)

    # The ground: in no workflow history, in no history item, in SQL (in the clear: no key).
    handle = api.env.client.get_workflow_handle(f"case-{case_id}")
    raw = b"".join(e.SerializeToString() for e in (await handle.fetch_history()).events)
    assert b"Ground-Sentinel-7Q" not in raw
    items = await fetch_history(api, "sup", case_id)
    assert "Ground-Sentinel-7Q" not in repr(items)
    order = next(e for e in items if e["action"] == "order_detention")
    assert order["data"] == {"alternative": False}
    assert detention_grounds(api.engine, case_id) == [(date.fromisoformat(ago(12)), False, GROUND)]


async def test_alternative_to_detention_has_no_review_clock(api: Api) -> None:
    users(api)
    case_id = await eu_2024_applicant(api)
    view = await act(
        api, "cw", case_id, "order_detention", on=ago(3), ground=GROUND, alternative=True
    )
    assert view["detention"]["status"] == "alternative"
    assert "alternative_to_detention" in view["flags"] and "detained" not in view["flags"]
    assert deadline(view, "detention_review") is None
    listed = (await detained_items(api))[case_id]
    assert (listed["detention"], listed["next_review_due"]) == ("alternative", None)
    # An alternative is not reviewed as a detention is; it ends with a release.
    refused = await api.http.post(
        f"/cases/{case_id}/actions/review_detention",
        json={"on": ago(1), "continued": True},
        headers=api.auth("cw"),
    )
    assert refused.status_code == 409, refused.text
    await act(api, "cw", case_id, "release_from_detention", on=ago(1))
    assert case_id not in await detained_items(api)


async def test_a_detention_ground_is_sealed_when_a_key_is_set(api: Api) -> None:
    from core.codec import new_key
    from core.settings import Settings
    from db.reception import record_detention_ground

    env: dict[str, object] = {"ASYLUMFLOW_ENCRYPTION_KEY": new_key()}
    keyed = Settings(_env_file=None, **env)  # type: ignore[arg-type]
    record_detention_ground(
        api.engine,
        case_id="sealed-case",
        ordered_on=date(2026, 7, 1),
        alternative=False,
        ground=GROUND,
        by="cw",
        settings=keyed,
    )
    with Session(api.engine) as session:
        row = session.exec(
            select(DetentionOrderRecord).where(DetentionOrderRecord.case_id == "sealed-case")
        ).one()
    assert row.ground.startswith(PREFIX) and "Sentinel" not in row.ground
    assert detention_grounds(api.engine, "sealed-case", keyed) == [
        (date(2026, 7, 1), False, GROUND)
    ]


async def test_an_assignment_beyond_capacity_is_allowed_and_listed(api: Api) -> None:
    users(api)
    made = await api.http.post(
        "/reception/centres",
        json={"id": "one-bed", "name": "One bed", "jurisdiction": "rs", "capacity": 1},
        headers=api.auth("admin"),
    )
    assert made.status_code == 201, made.text
    assert (made.json()["occupancy"], made.json()["over_capacity"]) == (0, False)
    first, second = [(await create(api, "cw", identified_on=ago(30)))["id"] for _ in range(2)]
    for case_id in (first, second):
        await act(api, "cw", case_id, "make_application", on=ago(30))
    unknown = await api.http.post(
        f"/cases/{first}/actions/assign_accommodation",
        json={"on": ago(12), "centre": "nowhere"},
        headers=api.auth("cw"),
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "centre"), unknown.text

    placed = await act(api, "cw", first, "assign_accommodation", on=ago(12), centre="one-bed")
    assert placed["accommodation"] == {"centre": "one-bed", "since": ago(12)}
    assert "over_capacity" not in placed["flags"]
    # The centre is full: the second person is placed all the same, and flagged.
    beyond = await act(api, "cw", second, "assign_accommodation", on=ago(10), centre="one-bed")
    assert "over_capacity" in beyond["flags"]
    again = (await api.http.get(f"/cases/{second}", headers=api.auth("cw"))).json()
    assert "over_capacity" in again["flags"]

    centres = await api.http.get("/reception/centres", headers=api.auth("sup"))
    assert centres.status_code == 200, centres.text
    (centre,) = [c for c in centres.json()["items"] if c["id"] == "one-bed"]
    assert (centre["capacity"], centre["occupancy"], centre["free"]) == (1, 2, 0)
    assert centre["over_capacity"] is True
    assert [c["case_id"] for c in centre["over_capacity_cases"]] == [second]
    stats = (await api.http.get("/stats?jurisdiction=rs", headers=api.auth("sup"))).json()
    assert stats["reception"]["accommodated"] >= 2
    assert stats["reception"]["over_capacity"] >= 1

    # Ending the first accommodation frees the place: the second is within capacity now.
    await act(api, "cw", first, "end_accommodation", on=ago(2))
    centres = await api.http.get("/reception/centres", headers=api.auth("cw"))
    (centre,) = [c for c in centres.json()["items"] if c["id"] == "one-bed"]
    assert (centre["occupancy"], centre["over_capacity"], centre["over_capacity_cases"]) == (
        1,
        False,
        [],
    )
    view = (await api.http.get(f"/cases/{second}", headers=api.auth("cw"))).json()
    assert "over_capacity" not in view["flags"] and "accommodated" in view["flags"]

    # Eurostat's month-end stock of applicants receiving material reception conditions.
    month = date.fromisoformat(ago(0)).strftime("%Y-%m")
    table = await api.http.get(
        f"/stats/eurostat/reception?from={month}&to={month}&jurisdiction=rs",
        headers=api.auth("sup"),
    )
    assert table.status_code == 200, table.text
    assert table.json()["dataset"].endswith("?")  # the code is not verified
    assert sum(c["value"] for c in table.json()["cells"]) == 1  # the second person only

    # A supervisor raises the capacity; a caseworker may not.
    raised = await api.http.put(
        "/reception/centres/one-bed", json={"capacity": 5}, headers=api.auth("sup")
    )
    assert (raised.status_code, raised.json()["free"]) == (200, 4), raised.text
    refused = await api.http.put(
        "/reception/centres/one-bed", json={"capacity": 9}, headers=api.auth("cw")
    )
    assert refused.status_code == 403


async def test_applicant_document_meets_its_clock(api: Api) -> None:
    users(api)
    # Lodged before 12 June 2026: eu-2013, Directive 2013/33/EU Art 6(1), 3 days from lodging.
    lodged_on = date(2026, 3, 2)  # Mon: due Thu 5 Mar 2026
    case_id = (await create(api, "cw", jurisdiction="eu", identified_on=lodged_on.isoformat()))[
        "id"
    ]
    for action in ("make_application", "register", "lodge"):
        view = await act(api, "cw", case_id, action, on=lodged_on.isoformat())
    assert view["rule_pack"]["id"] == "eu-2013"
    document = deadline(view, "applicant_document")
    assert document is not None
    assert (document["due"], document["citation"]) == (
        "2026-03-05",
        "Directive 2013/33/EU Art 6(1)",
    )
    # Not a kind for the procedure: 422 on kind, nothing recorded.
    wrong = await api.http.post(
        f"/cases/{case_id}/actions/issue_document",
        json={"on": ago(0), "kind": "id_card"},
        headers=api.auth("cw"),
    )
    assert (wrong.status_code, wrong.json()["field"]) == (422, "kind"), wrong.text
    issued = await act(
        api, "cw", case_id, "issue_document", on="2026-03-04", kind="applicant_document"
    )
    document = deadline(issued, "applicant_document")
    assert document is not None
    assert (document["status"], document["completed_on"]) == ("met", "2026-03-04")


async def test_a_ground_in_a_batch_or_a_retry_is_kept_once_and_out_of_the_case(api: Api) -> None:
    users(api)
    batched, retried = [await eu_2024_applicant(api) for _ in range(2)]
    response = await api.http.post(
        f"/cases/{batched}/actions",
        json={"actions": [{"action": "order_detention", "on": ago(4), "ground": GROUND}]},
        headers=api.auth("cw"),
    )
    assert response.status_code == 200, response.text
    missing = await api.http.post(
        f"/cases/{retried}/actions",
        json={"actions": [{"action": "order_detention", "on": ago(4)}]},
        headers=api.auth("cw"),
    )
    assert (missing.status_code, missing.json()["field"]) == (422, "actions.0.ground")
    for _ in range(2):  # a client's retry with the same key: one order, one stored ground
        again = await api.http.post(
            f"/cases/{retried}/actions/order_detention",
            json={"on": ago(4), "ground": GROUND},
            headers={**api.auth("cw"), "Idempotency-Key": "detain-once"},
        )
        assert again.status_code == 200, again.text
    for case_id in (batched, retried):
        assert detention_grounds(api.engine, case_id) == [
            (date.fromisoformat(ago(4)), False, GROUND)
        ]
        handle = api.env.client.get_workflow_handle(f"case-{case_id}")
        raw = b"".join(e.SerializeToString() for e in (await handle.fetch_history()).events)
        assert b"Ground-Sentinel-7Q" not in raw
    orders = [
        e for e in await fetch_history(api, "cw", retried) if e["action"] == "order_detention"
    ]
    assert len(orders) == 1
