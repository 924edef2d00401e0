"""`/supervision/*?sort=due|since|stage` and `?format=csv` (shared/api.md).

Three stuck cases in two stages, two of them overdue; each order is checked against the read
model, paged one case at a time as well as in one page, and the CSV against the JSON.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from typing import Any

from sqlmodel import Session

from db import supervision
from db.list_order import NO_DEADLINE
from db.tables import CaseRecord
from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import open_case, today


async def listed(api: Api, path: str) -> dict[str, Any]:
    """A supervision list's JSON."""
    response = await api.http.get(path, headers=api.auth("sup"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def every_page(api: Api, path: str) -> list[str]:
    """The case ids of a list read one case per page."""
    ids: list[str] = []
    cursor = None
    for _ in range(20):
        page = await listed(api, f"{path}&limit=1" + (f"&cursor={cursor}" if cursor else ""))
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the cursor never ended")


async def test_sorting_and_csv_export(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    cw = api.auth("cw")
    registered: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 40, {}),
        ("register", 39, {}),
    ]
    cases = [
        await open_case(api.http, cw, 1, registered, None, 40),
        await open_case(
            api.http, cw, 2, [("make_application", 26, {}), ("register", 25, {})], None, 26
        ),
        await open_case(api.http, cw, 3, [("make_application", 30, {})], None, 30),
    ]

    expected = {"overdue": set(cases[:2]), "stuck": set(cases)}

    def ready() -> bool:
        overdue = supervision.overdue(api.engine, supervision.Filters(), today=today())
        stuck = supervision.stuck(api.engine, supervision.Filters(), today=today())
        return {i["id"] for i in overdue.items} == expected["overdue"] and {
            i["id"] for i in stuck.items
        } == expected["stuck"]

    for _ in range(200):
        if await asyncio.to_thread(ready):
            break
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(ready)
    with Session(api.engine) as session:
        rows = {c: session.get(CaseRecord, c) for c in cases}
    assert {r.stage for r in rows.values() if r} == {"registered", "application_made"}

    def key(sort: str, item: dict[str, Any]) -> tuple[str, ...]:
        row = rows[item["id"]]
        assert row is not None
        first = {
            "since": (),
            "stage": (row.stage,),
            "due": ((row.next_deadline_due or NO_DEADLINE).isoformat(),),
        }[sort]
        return (*first, item["since"], item["id"])

    for name in ("overdue", "stuck"):
        for sort in ("since", "stage", "due"):
            if name == "overdue" and sort == "due":
                continue  # the overdue list's `due` is its `since` (checked below)
            page = await listed(api, f"/supervision/{name}?sort={sort}")
            count = len(expected[name])
            assert page["total"] == count and len(page["items"]) == count, (name, page)
            keys = [key(sort, item) for item in page["items"]]
            assert keys == sorted(keys), (name, sort, keys)
            # Paged one case at a time: the same cases in the same order, none twice.
            paged = await every_page(api, f"/supervision/{name}?sort={sort}")
            assert paged == [item["id"] for item in page["items"]], (name, sort)
    by_since = await listed(api, "/supervision/overdue?sort=since")
    by_due = await listed(api, "/supervision/overdue?sort=due")
    assert [i["id"] for i in by_due["items"]] == [i["id"] for i in by_since["items"]]
    assert [i["due"] for i in by_due["items"]] == sorted(i["due"] for i in by_due["items"])
    stage_order = [
        i["stage"] for i in (await listed(api, "/supervision/stuck?sort=stage"))["items"]
    ]
    assert stage_order == ["application_made", "registered", "registered"]

    # A cursor belongs to its order; an unknown order is refused.
    first = await listed(api, "/supervision/stuck?sort=since&limit=1")
    mixed = await api.http.get(
        f"/supervision/stuck?sort=stage&cursor={first['next_cursor']}", headers=api.auth("sup")
    )
    assert mixed.status_code == 422, mixed.text
    wrong = await api.http.get("/supervision/stuck?sort=name", headers=api.auth("sup"))
    assert wrong.status_code == 422

    # CSV: the whole list in the asked order, one row per case, the list's own columns too.
    for name in ("overdue", "stuck", "abandoned", "entitled-blocked"):
        as_json = await listed(api, f"/supervision/{name}?sort=stage")
        response = await api.http.get(
            f"/supervision/{name}?sort=stage&format=csv&limit=1", headers=api.auth("sup")
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert f'filename="{name}.csv"' in response.headers["content-disposition"]
        table = list(csv.DictReader(io.StringIO(response.text)))
        header = response.text.splitlines()[0].split(",")
        assert header[:6] == ["id", "reference", "stage", "since", "reason_code", "reason"]
        assert [r["id"] for r in table] == [i["id"] for i in as_json["items"]]
        assert response.headers["x-total-count"] == str(as_json["total"])
        assert response.headers["x-asylumflow-truncated"] == "false"
    overdue_csv = await api.http.get("/supervision/overdue?format=csv", headers=api.auth("sup"))
    table = list(csv.DictReader(io.StringIO(overdue_csv.text)))
    assert all(r["clock"] and date.fromisoformat(r["due"]) for r in table)
    assert {r["reason_code"] for r in table} == {"deadline_expired"}
    assert all(r["reference"].startswith("RS-") for r in table)
    # Filters apply to the export as to the page; caseworkers get none.
    none = await api.http.get(
        "/supervision/overdue?format=csv&jurisdiction=me", headers=api.auth("sup")
    )
    assert none.text.splitlines()[1:] == []
    refused = await api.http.get("/supervision/overdue?format=csv", headers=cw)
    assert refused.status_code == 403
