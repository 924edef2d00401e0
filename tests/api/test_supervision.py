"""Supervision lists and bulk reassignment, over the real app, worker, dev server and database.

A small Serbian (and one Polish) caseload is built from past-dated actions: each action settles
every clock that fell due by now, so a case lodged 128 days ago is overdue at once. Each case is
built to land on exactly the lists its comment names, and the lists must show exactly those.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db import supervision
from db.tables import AuditRecord, CaseRecord
from db.users import Role
from models.enums import Stage
from models.rules import all_packs
from tests.api.helpers import SUP, Api, act, ago, caught_up, person, today

CW = "cw"
ROUTES = ("overdue", "stuck", "abandoned", "entitled-blocked")


def day(days_ago: int) -> date:
    """The date `days_ago` before today."""
    return today() - timedelta(days=days_ago)


async def open_case(
    api: Api,
    n: int,
    identified: int,
    steps: Sequence[tuple[str, int, dict[str, Any]]],
    jurisdiction: str = "rs",
) -> str:
    """Open case `n` (a distinct person) identified `identified` days ago, then take `steps`.

    Each step is (action, days ago, extra body fields).
    """
    response = await api.http.post(
        "/cases",
        json={
            "jurisdiction": jurisdiction,
            "person": person(
                given_name=f"Supervised{n}",
                family_name=f"Person{n:03d}",
                date_of_birth=(date(1970, 1, 1) + timedelta(days=411 * n)).isoformat(),
            ),
            "identified_on": ago(identified),
            "identified_at": "inland",
        },
        headers=api.auth(CW),
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    for action, days_ago, body in steps:
        who = SUP if action == "review_abandonment" else CW
        await act(api, who, case_id, action, on=ago(days_ago), **body)
    return case_id


def applied(made: int) -> list[tuple[str, int, dict[str, Any]]]:
    """make_application, register and lodge on consecutive days from `made` days ago."""
    return [("make_application", made, {}), ("register", made - 1, {}), ("lodge", made - 2, {})]


async def listing(api: Api, route: str, query: str = "") -> dict[str, Any]:
    """One page of a supervision list as the supervisor sees it."""
    response = await api.http.get(f"/supervision/{route}{query}", headers=api.auth(SUP))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def ids(api: Api, route: str, query: str = "") -> list[str]:
    """The case ids of one page, in the order listed."""
    return [i["id"] for i in (await listing(api, route, query))["items"]]


async def deadline(api: Api, case_id: str, clock: str) -> dict[str, Any]:
    """One clock of a case as its workflow computes it."""
    case = (await api.http.get(f"/cases/{case_id}", headers=api.auth(SUP))).json()
    found: dict[str, Any] = next(d for d in case["deadlines"] if d["clock"] == clock)
    return found


def users(api: Api) -> None:
    """A supervisor, a caseworker, a border officer and three more caseworkers to assign."""
    api.user(SUP, Role.SUPERVISOR)
    api.user(CW, Role.CASEWORKER)
    api.user("officer", Role.BORDER_OFFICER)
    for name in ("cw-ana", "cw-ben", "cw-cid"):
        api.user(name, Role.CASEWORKER)


async def test_each_list_shows_exactly_its_cases_and_why(api: Api) -> None:
    users(api)
    # O: lodged 128 days ago; the 3-month decision clock expired; interview scheduled 5 days
    # ago and a contact 4 days ago, so not stuck (5 <= 60) and no longer presumed abandoned.
    o = await open_case(
        api,
        1,
        130,
        [
            *applied(130),
            ("assign_caseworker", 127, {"user": "cw-ana"}),
            ("schedule_interview", 5, {"interview_on": today().isoformat()}),
            ("record_contact", 4, {}),
        ],
    )
    # R: registered 25 days ago, never lodged: stuck (25 > 21) and overdue (15-day lodging clock).
    r = await open_case(api, 2, 26, [("make_application", 26, {}), ("register", 25, {})])
    # S: decided 20 days ago, never notified: stuck (20 > 14); the decision was in time.
    s = await open_case(
        api,
        3,
        25,
        [
            *applied(25),
            ("assign_caseworker", 23, {"user": "cw-ana"}),
            ("decide", 20, {"outcome": "rejected"}),
        ],
    )
    # P: Polish, accelerated, decided 16 days ago, never notified: stuck (16 > 14).
    p = await open_case(
        api,
        4,
        25,
        [
            *applied(25),
            ("assign_procedure", 23, {"procedure": "accelerated"}),
            # The applicant's document on the lodging day (pl-2015: 3 days, issue #19).
            ("issue_document", 23, {"kind": "applicant_document"}),
            ("decide", 16, {"outcome": "manifestly_unfounded"}),
        ],
        jurisdiction="pl",
    )
    # A: lodged 50 days ago, no contact since: presumed abandoned from day 30, i.e. 20 days ago.
    a = await open_case(api, 5, 52, applied(52))
    # B: lodged 18 days ago, reported absconded 10 days ago.
    b = await open_case(api, 6, 20, [*applied(20), ("report_absconded", 10, {})])
    # B2: lodged 45 days ago, so presumed abandoned 15 days ago for lack of contact; reported
    # absconded 10 days ago, which leaves the presumption (and its cause) as it was.
    b2 = await open_case(api, 10, 47, [*applied(47), ("report_absconded", 10, {})])
    # D: lodged 140 days ago and left alone: overdue (decision), stuck (lodged 140 > 60) and
    # presumed abandoned since day 30 after lodging (110 days ago), all at once.
    d = await open_case(api, 11, 142, applied(142))
    # E: lodged 200 days ago, decision clock extended twice (3+3+3 months, not overdue), labour
    # market reached 6 months after lodging, no personal ID number: entitled but blocked.
    e_steps = [
        *applied(202),
        ("extend_deadline", 199, {"clock": "decision", "reason": "complex"}),
        ("extend_deadline", 199, {"clock": "decision", "reason": "exceptional"}),
        ("schedule_interview", 10, {"interview_on": today().isoformat()}),
        ("record_contact", 5, {}),
    ]
    e = await open_case(api, 7, 202, e_steps)
    # E2: the same, but a personal ID number was issued: not blocked.
    e2 = await open_case(api, 8, 202, [*e_steps, ("issue_personal_id", 4, {})])
    # W: lodged 100 days ago, withdrawn 90 days ago: terminal, on no list at all.
    w = await open_case(
        api,
        9,
        102,
        [*applied(102), ("assign_caseworker", 100, {"user": "cw-ana"}), ("withdraw", 90, {})],
    )
    await caught_up(api, [o, r, s, p, a, b, b2, d, e, e2, w])

    # Overdue: D and O (decision), R (lodging), from the day after each clock's due date.
    d_due = date.fromisoformat((await deadline(api, d, "decision"))["due"])
    o_due = date.fromisoformat((await deadline(api, o, "decision"))["due"])
    r_due = date.fromisoformat((await deadline(api, r, "lodging"))["due"])
    page = await listing(api, "overdue")
    assert page["total"] == 3
    assert page["next_cursor"] is None
    assert [(i["id"], i["reason_code"], i["clock"], i["since"]) for i in page["items"]] == [
        (d, "deadline_expired", "decision", (d_due + timedelta(days=1)).isoformat()),
        (o, "deadline_expired", "decision", (o_due + timedelta(days=1)).isoformat()),
        (r, "deadline_expired", "lodging", (r_due + timedelta(days=1)).isoformat()),
    ]
    first = page["items"][1]
    assert first["due"] == o_due.isoformat()
    assert first["days_overdue"] == (today() - o_due).days
    assert first["stage"] == "interview_scheduled"
    assert first["jurisdiction"] == "rs"
    assert first["assignee"] == "cw-ana"
    assert first["reason"].startswith(f"decision was due by {o_due.isoformat()}")

    # Stuck: D (lodged 140 > 60), R (registered 25 > 21), S (decided 20 > 14), P (decided
    # 16 > 14); longest first.
    page = await listing(api, "stuck")
    assert page["total"] == 4
    assert [(i["id"], i["stage"], i["since"], i["service_level_days"]) for i in page["items"]] == [
        (d, "lodged", ago(140), 60),
        (r, "registered", ago(25), 21),
        (s, "decided", ago(20), 14),
        (p, "decided", ago(16), 14),
    ]
    assert {i["reason_code"] for i in page["items"]} == {"service_level_exceeded"}
    assert page["items"][1]["reason"] == "in stage registered for 25 days; service level 21 days"

    # Abandoned: D, A and B2 (no contact for 30 days after lodging), B (absconded).
    page = await listing(api, "abandoned")
    assert page["total"] == 4
    assert [(i["id"], i["reason_code"], i["since"]) for i in page["items"]] == [
        (d, "no_contact", ago(110)),
        (a, "no_contact", ago(20)),
        (b2, "no_contact", ago(15)),
        (b, "absconded", ago(10)),
    ]
    assert page["items"][1]["reason"] == f"no contact for 30 days since {ago(50)}"
    assert page["items"][3]["reason"] == f"reported absconded on {ago(10)}"

    # Entitled but blocked: E only, since labour-market access (6 months after lodging, rs-2023;
    # an entitlement does not roll to a working day).
    reached = day(200) + relativedelta(months=6)
    page = await listing(api, "entitled-blocked")
    assert [(i["id"], i["reason_code"], i["since"]) for i in page["items"]] == [
        (e, "no_personal_id", reached.isoformat())
    ]
    assert page["total"] == 1
    assert page["items"][0]["days_blocked"] == (today() - reached).days

    # Filters, as on /cases.
    assert await ids(api, "stuck", "?jurisdiction=pl") == [p]
    assert await ids(api, "stuck", "?jurisdiction=rs") == [d, r, s]
    assert await ids(api, "stuck", "?stage=decided") == [s, p]
    assert await ids(api, "stuck", "?stage=closed") == []
    assert await ids(api, "stuck", "?procedure=accelerated") == [p]
    assert await ids(api, "stuck", "?assignee=cw-ana") == [s]
    assert await ids(api, "overdue", "?assignee=cw-ana") == [o]
    assert await ids(api, "overdue", "?stage=lodged") == [d]
    assert await ids(api, "abandoned", "?jurisdiction=pl") == []

    # Keyset pagination: two pages, the same total on each, nothing skipped or repeated.
    first_page = await listing(api, "stuck", "?limit=3")
    assert [i["id"] for i in first_page["items"]] == [d, r, s]
    assert first_page["total"] == 4
    assert first_page["next_cursor"]
    second = await listing(api, "stuck", f"?limit=3&cursor={first_page['next_cursor']}")
    assert [i["id"] for i in second["items"]] == [p]
    assert second["total"] == 4
    assert second["next_cursor"] is None
    bad = await api.http.get("/supervision/stuck?cursor=%25%25", headers=api.auth(SUP))
    assert bad.status_code == 422
    assert bad.json()["field"] == "cursor"
    wrong_stage = await api.http.get("/supervision/stuck?stage=nowhere", headers=api.auth(SUP))
    assert wrong_stage.status_code == 422


async def test_only_supervisors_see_supervision(api: Api) -> None:
    users(api)
    for route in ROUTES:
        for who in (CW, "officer"):
            denied = await api.http.get(f"/supervision/{route}", headers=api.auth(who))
            assert denied.status_code == 403, (route, who)
            assert denied.json()["allowed_roles"] == ["supervisor"]
        assert (await api.http.get(f"/supervision/{route}")).status_code == 401
        assert (await listing(api, route)) == {"items": [], "total": 0, "next_cursor": None}
    body = {"from_user": "cw-ana", "to_user": "cw-ben"}
    denied = await api.http.post("/supervision/reassign", json=body, headers=api.auth(CW))
    assert denied.status_code == 403


async def test_review_of_presumed_abandonment_through_the_api(api: Api) -> None:
    users(api)
    # Both lodged 50 days ago without contact since: presumed abandoned 20 days ago.
    confirmed = await open_case(api, 11, 52, applied(52))
    lifted = await open_case(api, 12, 52, applied(52))
    await caught_up(api, [confirmed, lifted])
    page = await listing(api, "abandoned")
    assert [(i["id"], i["since"], i["review"]) for i in page["items"]] == sorted(
        [(confirmed, ago(20), "review_abandonment"), (lifted, ago(20), "review_abandonment")]
    )

    by_caseworker = await api.http.post(
        f"/cases/{confirmed}/actions/review_abandonment",
        json={"on": ago(0), "confirm": True},
        headers=api.auth(CW),
    )
    assert by_caseworker.status_code == 403
    # Confirming discontinues the case (implicit withdrawal); lifting returns it to work.
    gone = await act(api, SUP, confirmed, "review_abandonment", on=ago(0), confirm=True)
    assert gone["stage"] == "discontinued"
    assert "presumed_abandoned" not in gone["flags"]
    back = await act(api, SUP, lifted, "review_abandonment", on=ago(0), confirm=False)
    assert back["stage"] == "lodged"
    assert "presumed_abandoned" not in back["flags"]
    await caught_up(api, [confirmed, lifted])
    assert (await listing(api, "abandoned"))["total"] == 0
    history = (await api.http.get(f"/cases/{confirmed}/history", headers=api.auth(SUP))).json()
    review = [h for h in history["items"] if h["action"] == "review_abandonment"]
    assert [(h["actor"], h["event"], h["data"]) for h in review] == [
        (SUP, "discontinued", {"confirm": True})
    ]


async def test_bulk_reassignment(api: Api) -> None:
    users(api)
    one = await open_case(api, 21, 10, [*applied(10), ("assign_caseworker", 8, {"user": "cw-ana"})])
    two = await open_case(api, 22, 10, [*applied(10), ("assign_caseworker", 8, {"user": "cw-ana"})])
    # Withdrawn: a closed case is never reassigned.
    done = await open_case(
        api,
        23,
        10,
        [*applied(10), ("assign_caseworker", 8, {"user": "cw-ana"}), ("withdraw", 7, {})],
    )
    other = await open_case(
        api, 24, 10, [*applied(10), ("assign_caseworker", 8, {"user": "cw-ben"})]
    )
    await caught_up(api, [one, two, done, other])

    async def reassign(**body: Any) -> Any:
        return await api.http.post("/supervision/reassign", json=body, headers=api.auth(SUP))

    unknown = await reassign(from_user="cw-ana", to_user="nobody")
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "to_user"
    same = await reassign(from_user="cw-ana", to_user="cw-ana")
    assert same.status_code == 422

    moved = await reassign(from_user="cw-ana", to_user="cw-cid", note="ana on leave")
    assert moved.status_code == 200, moved.text
    # One request, one audit record, however many cases it wrote at once.
    with Session(api.engine) as session:
        audited = session.exec(
            select(AuditRecord).where(AuditRecord.request_id == moved.headers["x-request-id"])
        ).all()
    assert [(a.route, a.status) for a in audited] == [("/supervision/reassign", 200)]
    body = moved.json()
    assert sorted((i["id"], i["result"]) for i in body["items"]) == sorted(
        [(one, "reassigned"), (two, "reassigned")]
    )
    assert (body["reassigned"], body["skipped"], body["failed"]) == (2, 0, 0)
    case = (await api.http.get(f"/cases/{one}", headers=api.auth(SUP))).json()
    assert case["assignee"] == "cw-cid"
    history = (await api.http.get(f"/cases/{one}/history", headers=api.auth(SUP))).json()
    last = history["items"][-1]
    assert (last["action"], last["actor"], last["note"], last["on"]) == (
        "assign_caseworker",
        SUP,
        "ana on leave",
        ago(0),
    )

    # Named cases: each must still be assigned to from_user; unknown ones fail, not the batch.
    named = await reassign(from_user="cw-ben", to_user="cw-cid", case_ids=[other, one, "nope"])
    items = {i["id"]: i for i in named.json()["items"]}
    assert items[other]["result"] == "reassigned"
    assert items[one]["result"] == "skipped"
    assert "cw-cid" in items[one]["detail"]
    assert (items["nope"]["result"], items["nope"]["status"]) == ("failed", 404)
    # Named, a withdrawn case is skipped by the route itself (the default list never holds it).
    over = await reassign(from_user="cw-ana", to_user="cw-cid", case_ids=[done])
    assert [(i["id"], i["result"], i["detail"]) for i in over.json()["items"]] == [
        (done, "skipped", "withdrawn")
    ]

    async def listed() -> bool:
        page = (await api.http.get("/cases?assignee=cw-cid", headers=api.auth(SUP))).json()
        return sorted(c["id"] for c in page["items"]) == sorted([one, two, other])

    await api.wait_for(listed, "the read model to show the new assignee")
    left = (await api.http.get("/cases?assignee=cw-ana", headers=api.auth(SUP))).json()
    assert [c["id"] for c in left["items"]] == [done]


# ---------------------------------------------------------------------------------------------
# Service levels: built-in, configured (settings), per pack; straight on the query function.


def _row(case_id: str, stage: Stage, since: date, pack: str = "rs-2023") -> CaseRecord:
    return CaseRecord(
        id=case_id,
        jurisdiction=pack.split("-")[0],
        stage=stage.value,
        stage_since=since,
        procedure="regular",
        pack_id=pack,
        pack_version="1",
        last_action_on=since,
        last_contact_on=since,
        identified_on=since,
        updated_at=datetime.now(UTC),
    )


def test_overdue_lists_open_cases_only(sqlite_engine: Engine) -> None:
    """An overdue flag left on a closed or withdrawn row never lists it: the case is over."""
    with Session(sqlite_engine) as session:
        for case_id, stage in (
            ("open", Stage.LODGED),
            ("closed", Stage.CLOSED),
            ("withdrawn", Stage.WITHDRAWN),
        ):
            row = _row(case_id, stage, day(40))
            row.overdue, row.overdue_since, row.overdue_clock = True, day(10), "decision"
            session.add(row)
        session.commit()
    page = supervision.overdue(sqlite_engine, supervision.Filters(), today=today())
    assert [i["id"] for i in page.items] == ["open"]
    assert page.total == 1


def test_service_levels_precedence() -> None:
    rs = next(p for p in all_packs() if p.id == "rs-2023")
    assert supervision.service_levels(None)[Stage.REGISTERED] == 21
    assert supervision.service_levels(rs, {Stage.REGISTERED: 10})[Stage.REGISTERED] == 10
    own = rs.model_copy(update={"service_levels": {Stage.REGISTERED: 5}})
    assert supervision.service_levels(own, {Stage.REGISTERED: 10})[Stage.REGISTERED] == 5
    assert Stage.CLOSED not in supervision.service_levels(own)
    assert Stage.WITHDRAWN not in supervision.service_levels(own)


def test_stuck_uses_configured_and_pack_levels(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(sqlite_engine) as session:
        session.add(_row("rs-6", Stage.REGISTERED, day(6)))
        session.add(_row("rs-12", Stage.REGISTERED, day(12)))
        session.add(_row("pl-6", Stage.REGISTERED, day(6), "pl-2015"))
        session.add(_row("closed", Stage.CLOSED, day(900)))
        session.commit()

    def stuck(configured: dict[Stage, int] | None = None) -> list[tuple[str, int]]:
        page = supervision.stuck(
            sqlite_engine, supervision.Filters(), today=today(), configured=configured
        )
        return [(i["id"], i["service_level_days"]) for i in page.items]

    # Built-in 21 days: none; configured 10: the 12-day one; 5: all three (ordered by since).
    assert stuck() == []
    assert stuck({Stage.REGISTERED: 10}) == [("rs-12", 10)]
    assert stuck({Stage.REGISTERED: 5}) == [("rs-12", 5), ("pl-6", 5), ("rs-6", 5)]
    # A pack's own level beats the configured one, for its cases only.
    packs = tuple(
        p.model_copy(update={"service_levels": {Stage.REGISTERED: 3}}) if p.id == "pl-2015" else p
        for p in all_packs()
    )
    monkeypatch.setattr(supervision, "all_packs", lambda: packs)
    assert stuck({Stage.REGISTERED: 10}) == [("rs-12", 10), ("pl-6", 3)]
    assert stuck() == [("pl-6", 3)]
