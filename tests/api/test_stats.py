"""`/stats` against a hand-computed caseload, over the real app, worker, dev server and database.

The caseload is dated in 2025 (Serbia, rs-2023, plus one Montenegrin case), so every clock has
long settled and the figures are fixed. Appeals are the exception: notifying a decision settles
its appeal window as of today, so decisions that are appealed are notified in the last days and
their appeals decided since (all outside the 2025 windows). "integr." is integration.

| case | lodged | procedure | first-instance decision | then | now |
|---|---|---|---|---|---|
| C1 | 2025-01-10 | regular | refugee 2025-03-01, corrected: 02-28 (49 d) | notified | integr. |
| C2 | 2025-01-20 | regular | rejected 2025-04-30 (100 d) | appeal: subsidiary | integr. |
| C3 | 2025-02-05 | accelerated | manifestly unfounded 2025-02-25 (20 d) | notified | return |
| C4 | 2025-02-12 subsequent | admissibility | inadmissible 2025-02-22 (10 d) | notified | return |
| C5 | 2025-03-01 | regular | humanitarian 2025-06-01 (92 d) | notified | integr. |
| C6 | 2025-03-12 | regular | — presumed abandoned, review confirmed 2025-05-01 | | discontinued |
| C7 | 2025-03-17 | regular | — withdrawn 2025-04-01 | | withdrawn |
| C8 | 2025-04-05 | regular | rejected 2025-05-15 (40 d) | appeal dismissed | appeal_decided |
| C9 | 2025-04-10 | regular | — (decision overdue since July 2025) | | lodged |
| C10 me | 2025-01-15 | regular | refugee 2025-02-14 (30 d) | notified | integr. |
| C11 | 2025-05-05 | regular | rejected 2025-06-04 (30 d) | appeal quashed, remanded | lodged |
| C12 | never | | — withdrawn 2025-06-02 before applying (not counted) | | withdrawn |
| C13 | 2025-06-03 | regular | — discontinued 2025-06-20 | | discontinued |
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from db.users import Role
from tests.api.helpers import SUP, Api, act, ago, caught_up, person

CW = "cw"
OPEN_STAGES_ZERO = {
    s: 0
    for s in (
        "identified",
        "screening",
        "referred",
        "application_made",
        "registered",
        "lodged",
        "admissibility",
        "interview_scheduled",
        "interviewed",
        "decided",
        "notified",
        "appeal_lodged",
        "integration",
        "return",
        "discontinued",
        # The further appeal (issue 20, tracks).
        "appeal_decided",
        "further_appeal_lodged",
        "tolerated",
        "resettlement",
        # Responsibility procedure (issue 20)
        "responsibility_requested",
        "transfer_pending",
    )
}


async def case(
    api: Api, n: int, steps: Sequence[tuple[str, str, dict[str, Any]]], jurisdiction: str = "rs"
) -> str:
    """Open case `n` identified on the first step's date, then take each (action, on, fields)."""
    response = await api.http.post(
        "/cases",
        json={
            "jurisdiction": jurisdiction,
            "person": person(
                given_name=f"Counted{n}",
                family_name=f"Statperson{n:03d}",
                date_of_birth=(date(1965, 3, 1) + timedelta(days=523 * n)).isoformat(),
            ),
            "identified_on": steps[0][1],
            "identified_at": "inland",
        },
        headers=api.auth(CW),
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    for action, on, body in steps:
        who = SUP if action == "review_abandonment" else CW
        await act(api, who, case_id, action, on=on, **body)
    return case_id


def lodged(
    made: str, registered: str, on: str, **body: Any
) -> list[tuple[str, str, dict[str, Any]]]:
    """make_application, register, lodge on the given dates."""
    return [("make_application", made, {}), ("register", registered, {}), ("lodge", on, body)]


async def caseload(api: Api) -> list[str]:
    """The table in the module docstring."""
    return [
        await case(
            api,
            1,
            [
                *lodged("2025-01-08", "2025-01-09", "2025-01-10"),
                ("decide", "2025-03-01", {"outcome": "refugee_status"}),
                ("correct_event", "2025-03-02", {"event": "decided", "date": "2025-02-28"}),
                ("notify_decision", "2025-03-03", {}),
            ],
        ),
        await case(
            api,
            2,
            [
                *lodged("2025-01-18", "2025-01-19", "2025-01-20"),
                ("decide", "2025-04-30", {"outcome": "rejected"}),
                ("notify_decision", ago(7), {}),
                ("lodge_appeal", ago(6), {}),
                (
                    "decide_appeal",
                    ago(4),
                    {"result": "substituted", "outcome": "subsidiary_protection"},
                ),
            ],
        ),
        await case(
            api,
            3,
            [
                *lodged("2025-02-03", "2025-02-04", "2025-02-05"),
                ("assign_procedure", "2025-02-05", {"procedure": "accelerated"}),
                ("decide", "2025-02-25", {"outcome": "manifestly_unfounded"}),
                ("notify_decision", "2025-02-26", {}),
            ],
        ),
        await case(
            api,
            4,
            [
                *lodged("2025-02-10", "2025-02-11", "2025-02-12", subsequent=True),
                ("assign_procedure", "2025-02-12", {"procedure": "admissibility"}),
                ("decide_admissibility", "2025-02-22", {"admissible": False}),
                ("notify_decision", "2025-02-24", {}),
            ],
        ),
        await case(
            api,
            5,
            [
                *lodged("2025-02-27", "2025-02-28", "2025-03-01"),
                ("decide", "2025-06-01", {"outcome": "humanitarian"}),
                ("notify_decision", "2025-06-02", {}),
            ],
        ),
        await case(
            api,
            6,
            [
                *lodged("2025-03-10", "2025-03-11", "2025-03-12"),
                ("review_abandonment", "2025-05-01", {"confirm": True}),
            ],
        ),
        await case(
            api,
            7,
            [*lodged("2025-03-15", "2025-03-16", "2025-03-17"), ("withdraw", "2025-04-01", {})],
        ),
        await case(
            api,
            8,
            [
                *lodged("2025-04-03", "2025-04-04", "2025-04-05"),
                ("decide", "2025-05-15", {"outcome": "rejected"}),
                ("notify_decision", ago(6), {}),
                ("lodge_appeal", ago(5), {}),
                ("decide_appeal", ago(3), {"result": "dismissed"}),
            ],
        ),
        await case(api, 9, lodged("2025-04-08", "2025-04-09", "2025-04-10")),
        await case(
            api,
            10,
            [
                *lodged("2025-01-13", "2025-01-14", "2025-01-15"),
                ("decide", "2025-02-14", {"outcome": "refugee_status"}),
                ("notify_decision", "2025-02-15", {}),
                # me: the suit's period is unverified, so no appeal clock makes it final.
                ("make_final", "2025-03-03", {}),
            ],
            jurisdiction="me",
        ),
        await case(
            api,
            11,
            [
                *lodged("2025-05-03", "2025-05-04", "2025-05-05"),
                ("decide", "2025-06-04", {"outcome": "rejected"}),
                ("notify_decision", ago(12), {}),
                ("lodge_appeal", ago(11), {}),
                ("decide_appeal", ago(10), {"result": "quashed_remanded"}),
            ],
        ),
        await case(api, 12, [("withdraw", "2025-06-02", {})]),
        await case(
            api,
            13,
            [*lodged("2025-06-01", "2025-06-02", "2025-06-03"), ("discontinue", "2025-06-20", {})],
        ),
    ]


async def stats(api: Api, query: str = "") -> dict[str, Any]:
    """`GET /stats` as the supervisor."""
    response = await api.http.get(f"/stats{query}", headers=api.auth(SUP))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_statistics_of_a_hand_computed_caseload(api: Api) -> None:
    api.user(SUP, Role.SUPERVISOR)
    api.user(CW, Role.CASEWORKER)
    await caught_up(api, await caseload(api))

    serbia = await stats(api, "?jurisdiction=rs")
    # Lodgings by month: Jan C1 C2; Feb C3, C4 (subsequent); Mar C5 C6 C7; Apr C8 C9; May C11;
    # Jun C13. C10 is Montenegrin, C12 never applied.
    assert serbia["applications"] == {
        "2025-01": {"first_time": 2, "subsequent": 0},
        "2025-02": {"first_time": 1, "subsequent": 1},
        "2025-03": {"first_time": 3, "subsequent": 0},
        "2025-04": {"first_time": 2, "subsequent": 0},
        "2025-05": {"first_time": 1, "subsequent": 0},
        "2025-06": {"first_time": 1, "subsequent": 0},
    }
    # First instance: refugee C1; humanitarian C5; rejected C2 C8 C11; m.u. C3; inadmissible C4.
    # C2's subsidiary protection came on appeal: counted there, not here.
    assert serbia["decisions"] == {
        "refugee_status": 1,
        "subsidiary_protection": 0,
        "humanitarian": 1,
        "rejected": 3,
        "manifestly_unfounded": 1,
        "inadmissible": 1,
    }
    assert serbia["appeal_decisions"] == {"dismissed": 1, "quashed_remanded": 1, "substituted": 1}
    # Final on appeal: C8 dismissed (rejected stands), C2 substituted (subsidiary protection).
    assert serbia["appeal_outcomes"] == {
        "refugee_status": 0,
        "subsidiary_protection": 1,
        "humanitarian": 0,
        "rejected": 1,
        "manifestly_unfounded": 0,
        "inadmissible": 0,
    }
    # Otherwise closed: C6 (abandonment confirmed) and C13 discontinued, C7 withdrawn; not C12.
    assert serbia["otherwise_closed"] == 3
    assert serbia["otherwise_closed_by_reason"] == {"discontinued": 2, "withdrawn": 1}
    # UNHCR: substantive = 1 + 0 + 1 + 3 + 1 = 6; refugee 1/6; protection (1 + 0 + 1)/6.
    assert serbia["substantive_decisions"] == 6
    assert serbia["refugee_recognition_rate"] == 0.1667
    assert serbia["total_recognition_rate"] == 0.3333
    # Eurostat: the inadmissible C4 is a rejection, so 7 decisions; 1/7 and 2/7.
    assert serbia["substantive_decisions_eurostat"] == 7
    assert serbia["refugee_recognition_rate_eurostat"] == 0.1429
    assert serbia["total_recognition_rate_eurostat"] == 0.2857
    # Regular: C11 30, C8 40, C1 49 (to the corrected date), C5 92, C2 100 days; nearest rank:
    # median = 3rd of 5 (ceil 2.5) = 49, p90 = 5th of 5 (ceil 4.5) = 100.
    assert serbia["processing_days"] == {
        "regular": {"median": 49, "p90": 100, "count": 5},
        "accelerated": {"median": 20, "p90": 20, "count": 1},
        "admissibility": {"median": 10, "p90": 10, "count": 1},
    }
    # Now: integration C1 C2 C5; return C3 C4; C8 waits for the further appeal's window (the
    # Administrative Court, 30 days from the appeal decision); discontinued C6 C13; lodged C9
    # C11 (withdrawn C7 and C12 are not open). Overdue: C9's decision clock alone.
    assert serbia["backlog"] == {
        **OPEN_STAGES_ZERO,
        "integration": 3,
        "return": 2,
        "appeal_decided": 1,
        "discontinued": 2,
        "lodged": 2,
    }
    assert serbia["overdue"] == 1
    assert (serbia["jurisdiction"], serbia["from"], serbia["to"]) == ("rs", None, None)

    # March and April 2025, both ends inclusive: lodged C5 (1 March), C6, C7; C8, C9. Decided:
    # C2 on 30 April only (C1's decision was corrected to 28 February). Withdrawn: C7.
    spring = await stats(api, "?jurisdiction=rs&from=2025-03-01&to=2025-04-30")
    assert spring["applications"] == {
        "2025-03": {"first_time": 3, "subsequent": 0},
        "2025-04": {"first_time": 2, "subsequent": 0},
    }
    assert spring["decisions"] == {
        "refugee_status": 0,
        "subsidiary_protection": 0,
        "humanitarian": 0,
        "rejected": 1,
        "manifestly_unfounded": 0,
        "inadmissible": 0,
    }
    assert spring["otherwise_closed_by_reason"] == {"discontinued": 0, "withdrawn": 1}
    # 0 refugees of 1 substantive decision.
    assert spring["refugee_recognition_rate"] == 0.0
    assert spring["total_recognition_rate_eurostat"] == 0.0
    assert spring["processing_days"] == {"regular": {"median": 100, "p90": 100, "count": 1}}
    assert spring["appeal_decisions"] == {"dismissed": 0, "quashed_remanded": 0, "substituted": 0}
    # Stocks are as of now, whatever the window.
    assert (spring["backlog"], spring["overdue"]) == (serbia["backlog"], 1)

    # Nothing decided in January: rates are null, not zero.
    january = await stats(api, "?from=2025-01-01&to=2025-01-31")
    assert january["refugee_recognition_rate"] is None
    assert january["total_recognition_rate_eurostat"] is None
    assert january["applications"] == {"2025-01": {"first_time": 3, "subsequent": 0}}

    # All jurisdictions: C10 adds a January lodging, a refugee decision and 30 days (regular).
    everywhere = await stats(api)
    assert everywhere["applications"]["2025-01"] == {"first_time": 3, "subsequent": 0}
    assert everywhere["decisions"]["refugee_status"] == 2
    # UNHCR 2/7 and 3/7; Eurostat 2/8 and 3/8.
    assert (
        everywhere["refugee_recognition_rate"],
        everywhere["total_recognition_rate"],
        everywhere["refugee_recognition_rate_eurostat"],
        everywhere["total_recognition_rate_eurostat"],
    ) == (0.2857, 0.4286, 0.25, 0.375)
    # Regular [30, 30, 40, 49, 92, 100]: median = 3rd of 6 = 40, p90 = 6th (ceil 5.4) = 100.
    assert everywhere["processing_days"]["regular"] == {"median": 40, "p90": 100, "count": 6}
    assert everywhere["backlog"]["integration"] == 4

    # CSV: the same figures, one row each.
    response = await api.http.get("/stats?jurisdiction=rs&format=csv", headers=api.auth(SUP))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["metric", "key", "value"]
    figures = {(m, k): v for m, k, v in rows[1:]}
    assert len(figures) == len(rows) - 1
    for row in (
        ("applications", "2025-02/subsequent", "1"),
        ("decisions", "rejected", "3"),
        ("appeal_decisions", "substituted", "1"),
        ("otherwise_closed", "", "3"),
        ("refugee_recognition_rate", "", "0.1667"),
        ("total_recognition_rate_eurostat", "", "0.2857"),
        ("processing_days", "regular/median", "49"),
        ("processing_days", "regular/p90", "100"),
        ("backlog", "integration", "3"),
        ("backlog", "identified", "0"),
        ("overdue", "", "1"),
    ):
        assert figures[row[:2]] == row[2], row
    # Every JSON figure is in the CSV and nothing else is.
    expected = {
        (metric, "/".join(path)): str(value)
        for metric, value in serbia.items()
        if metric not in ("from", "to", "jurisdiction", "as_of")
        for path, value in _leaves(value)
    }
    assert figures == expected


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    return [(path, "" if value is None else value)]


async def test_statistics_are_for_supervisors_and_check_the_window(api: Api) -> None:
    api.user(SUP, Role.SUPERVISOR)
    api.user(CW, Role.CASEWORKER)
    assert (await api.http.get("/stats", headers=api.auth(CW))).status_code == 403
    assert (await api.http.get("/stats")).status_code == 401
    backwards = await api.http.get("/stats?from=2025-05-01&to=2025-04-30", headers=api.auth(SUP))
    assert backwards.status_code == 422
    assert backwards.json()["field"] == "from"
    bad_format = await api.http.get("/stats?format=xml", headers=api.auth(SUP))
    assert bad_format.status_code == 422
    empty = await stats(api)
    assert empty["applications"] == {}
    assert empty["otherwise_closed"] == 0
    assert empty["refugee_recognition_rate"] is None
    assert empty["processing_days"] == {}
    assert empty["backlog"] == OPEN_STAGES_ZERO
