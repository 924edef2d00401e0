"""The Eurostat tables and the anonymised export against a hand-computed caseload.

The real app, worker, dev server and database. The caseload is dated in 2025 (Serbia, plus one
Montenegrin case) so every figure is fixed; the two appeals are decided in the last days (an
appeal window runs from notification, as of today), so the final decisions fall in today's
quarter. Every expected cell below is worked out by hand from this table, not by the code.

| case | person (sex, born, nationality → code) | lodged | then |
|---|---|---|---|
| A | F 1990-05-10 SYR → SY | 2025-01-10 | refugee 2025-02-20 (not notified: pending) |
| B | M 1990-01-05 AFG → AF | 2025-01-15 subsequent | rejected 03-10; appeal: subsidiary (now) |
| C | F 2008-03-01 XK, unaccompanied | 2025-02-03 (16) | withdrawn 04-01 (17) |
| D | M 2012-07-01 XXA → STLS, unaccompanied | 2025-02-10 (12) | — pending |
| E | other, no birth date, XXX → UNK | 2025-03-05 | accelerated 03-06; manifestly unfounded 03-20 |
| F (me) | M 1985-08-20 IRQ → IQ | 2025-01-20 | refugee 02-14, notified 02-15, final 03-03 |
| G | F 1955-04-01 GBR → UK | 2025-04-02 (70) | discontinued 06-20 (implicit withdrawal) |
| H | M 1990-05-10 SYR → SY | 2025-04-15 (34) | humanitarian 05-20 (35 by then) |
| I | M 1995-06-30 AFG → AF | 2025-05-05 | rejected 06-04; appeal dismissed (now) |
| J | F 1990-05-10 SYR → SY | never (made 06-01) | withdrawn 06-02 |
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from db.users import Role
from tests.api.helpers import SUP, Api, act, ago, caught_up

CW = "cw"
Step = tuple[str, str, dict[str, Any]]


async def case(
    api: Api,
    steps: Sequence[Step],
    *,
    sex: str,
    born: str | None,
    nationality: str,
    jurisdiction: str = "rs",
    unaccompanied: bool = False,
    name: str = "Eurostatperson",
) -> str:
    """Open a case identified on the first step's date, then take each (action, on, fields)."""
    response = await api.http.post(
        "/cases",
        json={
            "jurisdiction": jurisdiction,
            "person": {
                "given_name": name,
                "family_name": "Countedinstats",
                "date_of_birth": born,
                "nationality": nationality,
                "sex": sex,
            },
            "identified_on": steps[0][1],
            "identified_at": "inland",
            "vulnerabilities": ["unaccompanied_child"] if unaccompanied else [],
        },
        headers=api.auth(CW),
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    for action, on, body in steps:
        await act(api, CW, case_id, action, on=on, **body)
    return case_id


def lodged(on: str, **body: Any) -> list[Step]:
    """make_application and register the day before, lodge on `on` (all in the same month)."""
    day = int(on[-2:])
    before = f"{on[:-2]}{max(day - 1, 1):02d}"
    return [("make_application", before, {}), ("register", before, {}), ("lodge", on, body)]


async def caseload(api: Api) -> list[str]:
    """The table in the module docstring."""
    return [
        await case(  # A
            api,
            [*lodged("2025-01-10"), ("decide", "2025-02-20", {"outcome": "refugee_status"})],
            sex="female",
            born="1990-05-10",
            nationality="SYR",
        ),
        await case(  # B
            api,
            [
                *lodged("2025-01-15", subsequent=True),
                ("decide", "2025-03-10", {"outcome": "rejected"}),
                ("notify_decision", ago(7), {}),
                ("lodge_appeal", ago(6), {}),
                (
                    "decide_appeal",
                    ago(4),
                    {"result": "substituted", "outcome": "subsidiary_protection"},
                ),
            ],
            sex="male",
            born="1990-01-05",
            nationality="AFG",
        ),
        await case(  # C
            api,
            [*lodged("2025-02-03"), ("withdraw", "2025-04-01", {})],
            sex="female",
            born="2008-03-01",
            nationality="XK",
            unaccompanied=True,
        ),
        await case(  # D
            api,
            lodged("2025-02-10"),
            sex="male",
            born="2012-07-01",
            nationality="XXA",
            unaccompanied=True,
        ),
        await case(  # E
            api,
            [
                *lodged("2025-03-05"),
                ("assign_procedure", "2025-03-06", {"procedure": "accelerated"}),
                ("decide", "2025-03-20", {"outcome": "manifestly_unfounded"}),
            ],
            sex="other",
            born=None,
            nationality="XXX",
        ),
        await case(  # F
            api,
            [
                *lodged("2025-01-20"),
                ("decide", "2025-02-14", {"outcome": "refugee_status"}),
                ("notify_decision", "2025-02-15", {}),
                # me: the suit's period is unverified, so no appeal clock makes it final.
                ("make_final", "2025-03-03", {}),
            ],
            sex="male",
            born="1985-08-20",
            nationality="IRQ",
            jurisdiction="me",
        ),
        await case(  # G
            api,
            [*lodged("2025-04-02"), ("discontinue", "2025-06-20", {})],
            sex="female",
            born="1955-04-01",
            nationality="GBR",
        ),
        await case(  # H
            api,
            [*lodged("2025-04-15"), ("decide", "2025-05-20", {"outcome": "humanitarian"})],
            sex="male",
            born="1990-05-10",
            nationality="SYR",
        ),
        await case(  # I
            api,
            [
                *lodged("2025-05-05"),
                ("decide", "2025-06-04", {"outcome": "rejected"}),
                ("notify_decision", ago(12), {}),
                ("lodge_appeal", ago(11), {}),
                ("decide_appeal", ago(10), {"result": "dismissed"}),
            ],
            sex="male",
            born="1995-06-30",
            nationality="AFG",
        ),
        await case(  # J
            api,
            [("make_application", "2025-06-01", {}), ("withdraw", "2025-06-02", {})],
            sex="female",
            born="1990-05-10",
            nationality="SYR",
        ),
    ]


async def table(api: Api, name: str, query: str = "from=2025-01&to=2025-06") -> list[Any]:
    """A table's cells as (dimension codes..., value) tuples, in the response's order."""
    response = await api.http.get(f"/stats/eurostat/{name}?{query}", headers=api.auth(SUP))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["table"] == name
    dimensions = body["dimensions"]
    return [(*(cell[d] for d in dimensions), cell["value"]) for cell in body["cells"]]


def quarter(day: str) -> tuple[str, str, str]:
    """The quarter `YYYY-Qn` of an ISO date, and its first and last month (`YYYY-MM`)."""
    d = date.fromisoformat(day)
    q = (d.month - 1) // 3
    return f"{d.year}-Q{q + 1}", f"{d.year}-{3 * q + 1:02d}", f"{d.year}-{3 * q + 3:02d}"


async def test_eurostat_tables_of_a_hand_computed_caseload(api: Api) -> None:
    api.user(SUP, Role.SUPERVISOR)
    api.user(CW, Role.CASEWORKER)
    await caught_up(api, await caseload(api))

    listed = await api.http.get("/stats/eurostat", headers=api.auth(SUP))
    assert [t["table"] for t in listed.json()["items"]] == [
        "applicants",
        "unaccompanied",
        "pending",
        "withdrawals",
        "first_instance",
        "final",
        "accelerated",
        "reception",  # issue #19 (tests/api/test_reception_detention.py counts it)
        "resettled",
    ]
    first, first_time, subsequent = "ASY_APP", "NASY_APP", "SUBS_APP"
    # Counted at lodging; J never lodged. Each applicant in the total and in its kind.
    assert await table(api, "applicants") == [
        ("2025-01", "AF", "M", "Y35-64", first, 1),  # B
        ("2025-01", "AF", "M", "Y35-64", subsequent, 1),
        ("2025-01", "IQ", "M", "Y35-64", first, 1),  # F
        ("2025-01", "IQ", "M", "Y35-64", first_time, 1),
        ("2025-01", "SY", "F", "Y18-34", first, 1),  # A
        ("2025-01", "SY", "F", "Y18-34", first_time, 1),
        ("2025-02", "STLS", "M", "Y_LT14", first, 1),  # D
        ("2025-02", "STLS", "M", "Y_LT14", first_time, 1),
        ("2025-02", "XK", "F", "Y14-17", first, 1),  # C
        ("2025-02", "XK", "F", "Y14-17", first_time, 1),
        ("2025-03", "UNK", "UNK", "UNK", first, 1),  # E
        ("2025-03", "UNK", "UNK", "UNK", first_time, 1),
        ("2025-04", "SY", "M", "Y18-34", first, 1),  # H
        ("2025-04", "SY", "M", "Y18-34", first_time, 1),
        ("2025-04", "UK", "F", "Y_GE65", first, 1),  # G
        ("2025-04", "UK", "F", "Y_GE65", first_time, 1),
        ("2025-05", "AF", "M", "Y18-34", first, 1),  # I
        ("2025-05", "AF", "M", "Y18-34", first_time, 1),
    ]
    assert await table(api, "unaccompanied") == [
        ("2025-02", "STLS", "M", "Y_LT14", 1),  # D, 12
        ("2025-02", "XK", "F", "Y16-17", 1),  # C, 16
    ]
    # The stock at each month's end, aged then: A and H turn 35 on 10 May; F is final on
    # 3 March, C withdrawn on 1 April, G discontinued on 20 June; D turns 13 on 1 July.
    a_young, a_old = ("SY", "F", "Y18-34"), ("SY", "F", "Y35-64")
    b, d, e = ("AF", "M", "Y35-64"), ("STLS", "M", "Y_LT14"), ("UNK", "UNK", "UNK")
    h_young, h_old = ("SY", "M", "Y18-34"), ("SY", "M", "Y35-64")
    c, f, g = ("XK", "F", "Y14-17"), ("IQ", "M", "Y35-64"), ("UK", "F", "Y_GE65")
    i = ("AF", "M", "Y18-34")
    expected_stock = {
        "2025-01": [a_young, b, f],
        "2025-02": [a_young, b, f, c, d],
        "2025-03": [a_young, b, c, d, e],
        "2025-04": [a_young, b, d, e, g, h_young],
        "2025-05": [a_old, b, d, e, g, h_old, i],
        "2025-06": [a_old, b, d, e, h_old, i],
    }
    assert await table(api, "pending") == sorted(
        (month, *who, 1) for month, people in expected_stock.items() for who in people
    )
    assert await table(api, "withdrawals") == [
        ("2025-04", "XK", "F", "Y14-17", "EXPL", 1),  # C, 17 by then
        ("2025-06", "SY", "F", "Y35-64", "EXPL", 1),  # J: made, never lodged
        ("2025-06", "UK", "F", "Y_GE65", "IMPL", 1),  # G
    ]
    assert await table(api, "first_instance") == [
        ("2025-Q1", "AF", "M", "Y35-64", "REJECTED", 1),  # B
        ("2025-Q1", "AF", "M", "Y35-64", "TOTAL", 1),
        ("2025-Q1", "IQ", "M", "Y35-64", "GENCONV", 1),  # F
        ("2025-Q1", "IQ", "M", "Y35-64", "TOTAL", 1),
        ("2025-Q1", "IQ", "M", "Y35-64", "TOTAL_POS", 1),
        ("2025-Q1", "SY", "F", "Y18-34", "GENCONV", 1),  # A
        ("2025-Q1", "SY", "F", "Y18-34", "TOTAL", 1),
        ("2025-Q1", "SY", "F", "Y18-34", "TOTAL_POS", 1),
        ("2025-Q1", "UNK", "UNK", "UNK", "REJECTED", 1),  # E: manifestly unfounded
        ("2025-Q1", "UNK", "UNK", "UNK", "TOTAL", 1),
        ("2025-Q2", "AF", "M", "Y18-34", "REJECTED", 1),  # I
        ("2025-Q2", "AF", "M", "Y18-34", "TOTAL", 1),
        ("2025-Q2", "SY", "M", "Y35-64", "HUMSTAT", 1),  # H, 35 on the decision's day
        ("2025-Q2", "SY", "M", "Y35-64", "TOTAL", 1),
        ("2025-Q2", "SY", "M", "Y35-64", "TOTAL_POS", 1),
    ]
    assert await table(api, "accelerated") == [("2025-03", "UNK", "UNK", "UNK", 1)]
    # Nothing was decided on appeal in 2025; B's and I's appeals are decided in the last days.
    assert await table(api, "final") == []
    q_i, lo, _ = quarter(ago(10))
    q_b, _, hi = quarter(ago(4))
    finals = await table(api, "final", f"from={lo}&to={hi}")
    born_b, born_i = date(1990, 1, 5), date(1995, 6, 30)
    old_b = (date.fromisoformat(ago(4)) - born_b).days // 365.25  # 36 or so: Y35-64
    old_i = (date.fromisoformat(ago(10)) - born_i).days // 365.25  # 31 or so: Y18-34
    assert 35 <= old_b < 65 and 18 <= old_i < 35
    assert sorted(finals) == sorted(
        [
            (q_b, "AF", "M", "Y35-64", "SUB_PROT", 1),
            (q_b, "AF", "M", "Y35-64", "TOTAL", 1),
            (q_b, "AF", "M", "Y35-64", "TOTAL_POS", 1),
            (q_i, "AF", "M", "Y18-34", "REJECTED", 1),
            (q_i, "AF", "M", "Y18-34", "TOTAL", 1),
        ]
    )

    # One jurisdiction; a narrower window; rounding (every cell here is 1 or 2: all round
    # to 0 and go); CSV has the dimensions as columns.
    assert await table(api, "applicants", "from=2025-01&to=2025-06&jurisdiction=me") == [
        ("2025-01", "IQ", "M", "Y35-64", first, 1),
        ("2025-01", "IQ", "M", "Y35-64", first_time, 1),
    ]
    assert await table(api, "pending", "from=2025-06&to=2025-06&jurisdiction=rs") == sorted(
        ("2025-06", *who, 1) for who in expected_stock["2025-06"]
    )
    assert await table(api, "applicants", "from=2025-01&to=2025-06&round=5") == []
    response = await api.http.get(
        "/stats/eurostat/withdrawals?from=2025-01&to=2025-06&format=csv", headers=api.auth(SUP)
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["time", "citizen", "sex", "age", "typwithd", "value"],
        ["2025-04", "XK", "F", "Y14-17", "EXPL", "1"],
        ["2025-06", "SY", "F", "Y35-64", "EXPL", "1"],
        ["2025-06", "UK", "F", "Y_GE65", "IMPL", "1"],
    ]


async def test_bad_parameters_are_named(api: Api) -> None:
    """422 naming the field; 404 for an unknown table; supervisors only."""
    api.user(SUP, Role.SUPERVISOR)
    api.user(CW, Role.CASEWORKER)

    async def field_of(query: str, name: str = "applicants") -> Any:
        response = await api.http.get(f"/stats/eurostat/{name}?{query}", headers=api.auth(SUP))
        assert response.status_code == 422, (query, response.text)
        return response.json()["field"]

    assert await field_of("to=2025-06") == "from"
    assert await field_of("from=2025-01") == "to"
    assert await field_of("from=2025-13&to=2025-12") == "from"
    assert await field_of("from=0000-01&to=2025-12") == "from"
    assert await field_of("from=2025-01&to=2025-1") == "to"
    assert await field_of("from=2025-06&to=2025-01") == "from"
    assert await field_of("from=2015-01&to=2025-12") == "to"  # over 120 months
    assert await field_of("from=2025-01&to=2025-06&round=10") == "round"
    assert await field_of("from=2025-01&to=2025-06&jurisdiction=xx") == "jurisdiction"
    assert await field_of("from=2025-02&to=2025-06", "first_instance") == "from"
    assert await field_of("from=2025-01&to=2025-05", "final") == "to"
    unknown = await api.http.get(
        "/stats/eurostat/nope?from=2025-01&to=2025-06", headers=api.auth(SUP)
    )
    assert unknown.status_code == 404
    for path in ("/stats/eurostat", "/stats/eurostat/applicants", "/stats/export"):
        assert (await api.http.get(path, headers=api.auth(CW))).status_code == 403
    assert (await api.http.get("/stats/export?k=4", headers=api.auth(SUP))).status_code == 422


async def test_the_export_is_anonymous_and_k_anonymous(api: Api) -> None:
    """Five alike cases survive k=5; the two that differ in one column are suppressed.

    Five Syrian men born in 1980 (different days) lodged in July 2025, pending; a Syrian woman
    of the same age lodged in July, and a Syrian man lodged in August: each alone in its
    combination.
    """
    api.user(SUP, Role.SUPERVISOR)
    api.user(CW, Role.CASEWORKER)
    alike = [
        await case(
            api,
            lodged(f"2025-07-{10 + n:02d}"),
            sex="male",
            born=f"1980-0{n + 1}-1{n}",
            nationality="SYR",
            name=f"Exportperson{n}",
        )
        for n in range(5)
    ]
    woman = await case(
        api, lodged("2025-07-20"), sex="female", born="1980-03-03", nationality="SY", name="Ewa"
    )
    august = await case(
        api, lodged("2025-08-05"), sex="male", born="1980-04-04", nationality="SYR", name="Ali"
    )
    ids = [*alike, woman, august]
    await caught_up(api, ids)

    response = await api.http.get("/stats/export", headers=api.auth(SUP))
    assert response.status_code == 200, response.text
    body = response.json()
    row = {
        "jurisdiction": "rs",
        "citizen": "SY",
        "sex": "M",
        "age": "Y35-64",
        "month": "2025-07",
        "outcome": "PENDING",
    }
    assert body["k"] == 5 and body["columns"] == list(row)
    assert body["rows"] == [row] * 5
    assert body["suppressed"] == 2
    combos = Counter(tuple(r.values()) for r in body["rows"])
    assert all(n >= 5 for n in combos.values())

    # Raised k suppresses everything; a window leaves the August case alone, suppressed.
    raised = (await api.http.get("/stats/export?k=6", headers=api.auth(SUP))).json()
    assert (raised["k"], raised["rows"], raised["suppressed"]) == (6, [], 7)
    august_only = (await api.http.get("/stats/export?from=2025-08", headers=api.auth(SUP))).json()
    assert (august_only["rows"], august_only["suppressed"]) == ([], 1)

    as_csv = await api.http.get("/stats/export?format=csv", headers=api.auth(SUP))
    assert as_csv.headers["X-Suppressed-Rows"] == "2"
    assert list(csv.reader(io.StringIO(as_csv.text))) == [list(row), *[list(row.values())] * 5]

    # No name, id, reference or exact date anywhere in either output.
    secrets = ["Exportperson", "Ewa", "Ali", "Countedinstats", *ids]
    for case_id in ids:
        got = await api.http.get(f"/cases/{case_id}", headers=api.auth(SUP))
        secrets.append(got.json()["reference"])
    for text in (response.text, as_csv.text):
        assert not [s for s in secrets if s in text]
        assert re.search(r"\d{4}-\d{2}-\d{2}", text) is None


async def test_unaccompanied_minors_are_counted_as_they_were_at_lodging(api: Api) -> None:
    """The flag at the lodging, not today's: later findings do not rewrite a month's count.

    | case | person | flag before lodging | lodged | after |
    |---|---|---|---|---|
    | K | M 2009-01-01 SYR | at opening | 2025-03-03 (16) | assessed adult 04-01 |
    | L | F 2010-05-01 AFG | found 02-20 | 2025-03-10 (14) | — |
    | M | M 2011-01-01 IRQ | none | 2025-03-12 (14) | found 04-02 |
    | N | F 2009-06-01 XK | at opening, ended 02-25 | 2025-03-14 (15) | — |
    """
    api.user(SUP, Role.SUPERVISOR)
    api.user(CW, Role.CASEWORKER)
    found, ended = {"kind": "unaccompanied_child", "present": True}, {"present": False}
    ids = [
        await case(  # K
            api,
            [*lodged("2025-03-03"), ("record_age_assessment", "2025-04-01", {"outcome": "adult"})],
            sex="male",
            born="2009-01-01",
            nationality="SYR",
            unaccompanied=True,
        ),
        await case(  # L
            api,
            [("record_vulnerability", "2025-02-20", found), *lodged("2025-03-10")],
            sex="female",
            born="2010-05-01",
            nationality="AFG",
        ),
        await case(  # M
            api,
            [*lodged("2025-03-12"), ("record_vulnerability", "2025-04-02", found)],
            sex="male",
            born="2011-01-01",
            nationality="IRQ",
        ),
        await case(  # N
            api,
            [
                ("record_vulnerability", "2025-02-25", {"kind": "unaccompanied_child", **ended}),
                *lodged("2025-03-14"),
            ],
            sex="female",
            born="2009-06-01",
            nationality="XK",
            unaccompanied=True,
        ),
    ]
    await caught_up(api, ids)
    assert await table(api, "unaccompanied") == [
        ("2025-03", "AF", "F", "Y14-15", 1),  # L, 14
        ("2025-03", "SY", "M", "Y16-17", 1),  # K, 16: an adult only after
    ]
