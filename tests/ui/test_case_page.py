"""The case page: the timeline in legal order with recording times, deadlines with days left."""

from __future__ import annotations

import re
from datetime import date

from db.users import Role
from models.rules import calendar_today
from tests.api.helpers import Api
from tests.ui.helpers import Dom, ago, assert_accessible, open_case, signin


async def test_timeline_in_legal_order_and_days_left(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    cw = api.auth("cw")
    case_id = await open_case(
        api.http, cw, 1, [("make_application", 26, {}), ("register", 25, {})], None, 27
    )
    # Recorded last, but it happened first (the day of identification).
    late = await api.http.post(
        f"/cases/{case_id}/actions/record_contact", json={"on": ago(27)}, headers=cw
    )
    assert late.status_code == 200, late.text
    case = late.json()

    session = await signin(api.http, api.tokens["cw"])
    response = await api.http.get(f"/ui/cases/{case_id}", headers=session)
    assert response.status_code == 200, response.text
    dom = Dom(response.text)
    assert_accessible(dom)
    timeline = [t for t in dom.texts("li") if re.match(r"\d{4}-\d{2}-\d{2} ", t)]
    order = [
        next(i for i, t in enumerate(timeline) if what in t)
        for what in ("record contact", "make application", "register")
    ]
    assert order == sorted(order), timeline
    assert all("recorded" in t and "UTC" in t for t in timeline if "by cw" in t)
    dates = [t.split(" ", 1)[0] for t in timeline]
    assert dates == sorted(dates)

    # Days left: to the due date for a running clock, days since it for a lapsed one.
    headers = [th.text for th in dom.all("th") if th.attrs.get("scope") == "col"]
    assert "Days left" in headers
    for deadline in case["deadlines"]:
        row = next(
            tr for tr in dom.all("tr") if tr.text.startswith(deadline["clock"].replace("_", " "))
        )
        # Days in the case's calendar (Belgrade), not the server's UTC date.
        days = (date.fromisoformat(deadline["due"]) - calendar_today("rs")).days
        if deadline["status"] in ("running", "paused"):
            assert f" {days} " in f" {row.text} ", (deadline, row.text)
        elif deadline["status"] in ("expired", "missed"):
            assert f"{-days} days ago" in row.text, (deadline, row.text)
    assert any(d["status"] == "expired" for d in case["deadlines"])
