"""The caseworker's desk: my open cases by name and reference, most urgent deadline first."""

from __future__ import annotations

import asyncio

from db import desk
from db.list_order import NO_DEADLINE
from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import Dom, assert_accessible, build_caseload, open_case, signin, today


async def test_my_cases_most_urgent_first(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("other", Role.CASEWORKER)
    api.user("north", Role.LEGAL_AID, "la-north")
    load = await build_caseload(api.http, api.auth("cw"), api.engine)
    for case_id, who in ((load.running, "cw"), (load.overdue, "cw"), (load.other_org, "other")):
        done = await api.http.post(
            f"/cases/{case_id}/actions/assign_caseworker",
            json={"on": today().isoformat(), "user": who},
            headers=api.auth("cw"),
        )
        assert done.status_code == 200, done.text

    def assigned() -> list[str]:
        return [case.id for case, _ in desk.assigned_cases(api.engine, "cw")]

    for _ in range(200):
        if set(await asyncio.to_thread(assigned)) == {load.running, load.overdue}:
            break
        await asyncio.sleep(0.1)
    rows = await asyncio.to_thread(desk.assigned_cases, api.engine, "cw")
    keys = [(case.next_deadline_due or NO_DEADLINE, case.id) for case, _ in rows]
    assert len(keys) == 2 and keys == sorted(keys), keys

    cw = await signin(api.http, api.tokens["cw"])
    response = await api.http.get("/ui/desk", headers=cw)
    assert response.status_code == 200, response.text
    dom = Dom(response.text)
    assert_accessible(dom)
    assert dom.texts("h1") == ["My cases"]
    rows_text = [tr.text for tr in dom.all("tr")][1:]
    assert len(rows_text) == 2
    names = [t.split(" RS-")[0] for t in rows_text]
    expected = {load.overdue: "Dashboard1 Person001", load.running: "Dashboard2 Person002"}
    assert names == [expected[c.id] for c, _ in rows]
    links = [a.attrs["href"] for a in dom.all("a") if a.attrs["href"].startswith("/ui/cases/")]
    assert links == [f"/ui/cases/{c.id}" for c, _ in rows]
    assert load.other_org not in response.text and "Person003" not in response.text
    assert "overdue" in rows_text[[c.id for c, _ in rows].index(load.overdue)]
    # Another caseworker's desk holds its own; legal aid has no desk.
    other = await signin(api.http, api.tokens["other"])
    theirs = Dom((await api.http.get("/ui/desk", headers=other)).text)
    assert "Dashboard3 Person003" in theirs.body and load.overdue not in theirs.body
    north = await signin(api.http, api.tokens["north"])
    assert (await api.http.get("/ui/desk", headers=north)).status_code == 403


async def test_a_border_officer_sees_the_cases_it_opened_by_name(api: Api) -> None:
    api.user("officer-a", Role.BORDER_OFFICER)
    api.user("officer-b", Role.BORDER_OFFICER)
    mine = await open_case(api.http, api.auth("officer-a"), 4, [], None, 1)
    theirs = await open_case(api.http, api.auth("officer-b"), 5, [], None, 1)

    def opened() -> list[str]:
        return [case.id for case, _ in desk.created_cases(api.engine, "officer-a")]

    for _ in range(200):
        if await asyncio.to_thread(opened) == [mine]:
            break
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(opened) == [mine]

    officer = await signin(api.http, api.tokens["officer-a"])
    page = Dom((await api.http.get("/ui/desk", headers=officer)).text)
    assert_accessible(page)
    assert "Dashboard4 Person004" in page.body and "1 open case you opened" in page.body
    assert theirs not in page.body and "Person005" not in page.body
    case = Dom((await api.http.get(f"/ui/cases/{mine}", headers=officer)).text)
    assert "Dashboard4 Person004" in case.body  # the person, by name, on its own case
    # The officer's forms: the border actions only.
    forms = {
        f.attrs["action"].rsplit("/", 1)[1]
        for f in case.all("form")
        if "/actions/" in f.attrs.get("action", "")
    }
    border_actions = {"complete_screening", "refer", "make_application"}
    border_actions |= {"record_vulnerability", "record_information_given"}  # issue #19
    assert forms and forms <= border_actions, forms
    other = await api.http.get(f"/ui/cases/{theirs}", headers=officer)
    assert other.status_code == 404 and "Person005" not in other.text
