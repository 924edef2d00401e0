"""Reassignment by case ids alone: over the API and by ticking cases on a list page."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import Session, select

from db import supervision
from db.tables import AuditRecord
from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import FORM, Dom, assert_accessible, csrf_of, open_case, signin, today


async def assign(api: Api, case_id: str, who: str) -> None:
    """Assign a case to `who` through the API."""
    done = await api.http.post(
        f"/cases/{case_id}/actions/assign_caseworker",
        json={"on": today().isoformat(), "user": who},
        headers=api.auth("sup"),
    )
    assert done.status_code == 200, done.text


async def assignee(api: Api, case_id: str) -> Any:
    """Who holds a case, as its workflow says."""
    return (await api.http.get(f"/cases/{case_id}", headers=api.auth("sup"))).json()["assignee"]


async def test_reassign_selected_cases_from_whoever_holds_them(
    api: Api, audit_writes: list[tuple[str, int]]
) -> None:
    for name in ("cw1", "cw2", "cw3"):
        api.user(name, Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 40, {}),
        ("register", 39, {}),
    ]
    a, b, c = [await open_case(api.http, api.auth("cw1"), n, steps, None, 40) for n in (1, 2, 3)]
    await assign(api, a, "cw1")
    await assign(api, b, "cw2")

    # Over the API: the case ids alone, from different holders; one needs neither from_user.
    audit_writes.clear()
    response = await api.http.post(
        "/supervision/reassign",
        json={"case_ids": [a, b], "to_user": "cw3"},
        headers={**api.auth("sup"), "X-Request-Id": "rid-reassign"},
    )
    assert response.status_code == 200, response.text
    # Its audit record went into the first case's read-model write: the middleware wrote none.
    with Session(api.engine) as session:
        records = session.exec(select(AuditRecord).where(AuditRecord.request_id == "rid-reassign"))
        assert [(r.status, r.kind) for r in records] == [(200, "change")]
    assert audit_writes == []
    body = response.json()
    assert body["reassigned"] == 2 and body["from_user"] is None
    assert [await assignee(api, x) for x in (a, b)] == ["cw3", "cw3"]
    neither = await api.http.post(
        "/supervision/reassign", json={"to_user": "cw3"}, headers=api.auth("sup")
    )
    assert neither.status_code == 422

    # On the page: tick two cases of the stuck list, choose a caseworker, see each result.
    def listed() -> set[str]:
        page = supervision.stuck(api.engine, supervision.Filters(), today=today())
        return {i["id"] for i in page.items}

    for _ in range(200):
        if {a, b, c} <= await asyncio.to_thread(listed):
            break
        await asyncio.sleep(0.1)
    sup = await signin(api.http, api.tokens["sup"])
    page = Dom((await api.http.get("/ui/supervision/stuck", headers=sup)).text)
    assert_accessible(page)
    boxes = {i.attrs["value"] for i in page.all("input") if i.attrs.get("type") == "checkbox"}
    assert {a, b, c} <= boxes
    options = [o.attrs["value"] for o in page.all("option")]
    assert {"cw1", "cw2", "cw3", "sup"} <= set(options)
    token = csrf_of(page)

    async def post(body: str, status: int) -> Dom:
        response = await api.http.post(
            "/ui/supervision/stuck/reassign", content=body, headers={**sup, **FORM}
        )
        assert response.status_code == status, response.text[:500]
        dom = Dom(response.text)
        assert_accessible(dom)
        return dom

    await post(f"case={a}&case={c}&to_user=cw2", 403)  # no CSRF token
    await post(f"csrf={token}&to_user=cw2", 422)  # nothing ticked
    assert "to_user" in (await post(f"csrf={token}&case={a}&to_user=nobody", 422)).body
    done = await post(f"csrf={token}&case={a}&case={c}&to_user=cw2", 200)
    assert "2 reassigned, 0 skipped, 0 failed." in done.body
    assert [await assignee(api, x) for x in (a, b, c)] == ["cw2", "cw3", "cw2"]
