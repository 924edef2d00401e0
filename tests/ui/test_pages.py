"""The dashboard over ASGI: sign-in, the lists, the case page's provenance, role refusals."""

from __future__ import annotations

from typing import Any

from api.routes.ui import COOKIE
from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import (
    FORM,
    Dom,
    assert_accessible,
    build_caseload,
    csrf_of,
    post_signin,
)
from tests.ui.helpers import signin as signin_as


async def signin(api: Api, who: str) -> dict[str, str]:
    """Sign in through the form; the Cookie header for the session it starts."""
    return await signin_as(api.http, api.tokens[who])


async def page(api: Api, path: str, session: dict[str, str], status: int = 200) -> Dom:
    """GET a dashboard page, check its status and accessibility, return its DOM."""
    response = await api.http.get(path, headers=session)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    dom = Dom(response.text)
    assert_accessible(dom)
    return dom


async def test_signin_cookie_signout_and_tickets(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    # Anonymous visitors go to the sign-in form, which labels its field.
    response = await api.http.get("/ui/supervision/overdue")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/signin?next=/ui/supervision/overdue"
    form = await page(api, "/ui/signin?next=/ui/supervision/overdue", {})
    assert form.texts("h1") == ["Sign in"]
    assert [i.attrs["name"] for i in form.all("input")] == ["csrf", "next", "token"]

    wrong = await post_signin(api.http, "nope")
    assert wrong.status_code == 401
    assert "unknown or revoked" in Dom(wrong.text).body

    ok = await post_signin(api.http, api.tokens["sup"], "/ui/supervision/stuck")
    assert ok.status_code == 303
    assert ok.headers["location"] == "/ui/supervision/stuck"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    session = {"Cookie": f"{COOKIE}={ok.cookies[COOKIE]}"}
    home = await page(api, "/ui", session)
    assert "Signed in as sup" in home.body
    assert "Overdue cases" in home.texts("a")

    # Only an internal path is a redirect target.
    elsewhere = await post_signin(api.http, api.tokens["sup"], "//evil.example/")
    assert elsewhere.headers["location"] == "/ui"

    out = await api.http.post(
        "/ui/signout", content=f"csrf={csrf_of(home)}", headers={**session, **FORM}
    )
    assert out.status_code == 303
    assert f'{COOKIE}=""' in out.headers["set-cookie"] or "max-age=0" in (
        out.headers["set-cookie"].lower()
    )

    # A one-time ticket signs a browser in once, within a minute.
    assert (await api.http.post("/ui/tickets")).status_code == 401
    made = await api.http.post("/ui/tickets", headers=api.auth("sup"))
    assert made.status_code == 200, made.text
    ticket: dict[str, Any] = made.json()
    assert ticket["expires_in"] == 60
    first = await api.http.get(f"{ticket['url']}&next=/ui/supervision/overdue")
    assert first.status_code == 303
    assert first.headers["location"] == "/ui/supervision/overdue"
    assert first.cookies[COOKIE] != api.tokens["sup"]  # a session id, never the token
    again = await api.http.get(ticket["url"])
    assert again.status_code == 401
    assert "used or expired" in Dom(again.text).body


async def test_lists_case_page_legal_aid_and_refusals(api: Api) -> None:
    api.user("sup", Role.SUPERVISOR)
    api.user("cw", Role.CASEWORKER)
    api.user("north", Role.LEGAL_AID, "la-north")
    api.user("south", Role.LEGAL_AID, "la-south")
    load = await build_caseload(api.http, api.auth("cw"), api.engine)
    sup, cw = await signin(api, "sup"), await signin(api, "cw")
    north, south = await signin(api, "north"), await signin(api, "south")

    overdue = await page(api, "/ui/supervision/overdue", sup)
    assert overdue.texts("h1") == ["Overdue cases"]
    listed = [a.attrs["href"] for a in overdue.all("a") if a.attrs["href"].startswith("/ui/cases/")]
    assert listed == [f"/ui/cases/{load.overdue}"]
    # By name and reference: supervisors may read the person.
    row = next(tr for tr in overdue.all("tr") if load.overdue in tr.text)
    assert "Dashboard1 Person001 RS-" in row.text, row.text
    assert "lodging was due by" in overdue.body
    stuck = await page(api, "/ui/supervision/stuck", sup)
    assert load.overdue in stuck.body and load.running not in stuck.body
    for name in ("abandoned", "entitled-blocked"):
        await page(api, f"/ui/supervision/{name}", sup)
    await page(api, "/ui/supervision/nonsense", sup, 404)

    # The case page: every deadline with its provenance, and the timeline.
    case = (await api.http.get(f"/cases/{load.overdue}", headers=api.auth("sup"))).json()
    lodging = next(d for d in case["deadlines"] if d["clock"] == "lodging")
    dom = await page(api, f"/ui/cases/{load.overdue}", sup)
    assert dom.texts("h1") == [f"Case {load.overdue}"]
    # Actions after the deadlines (what is due decides what to do), then the timeline.
    assert dom.texts("h2") == ["Deadlines", "Actions", "Timeline"]
    row = next(tr for tr in dom.all("tr") if tr.text.startswith("lodging"))
    for part in (
        lodging["due"],
        "expired",
        lodging["rule"],
        lodging["citation"],
        f"registered on {lodging['trigger_date']}",
        lodging["period"],
        lodging["calendar"],
    ):
        assert part in row.text, (part, row.text)
    assert [h.text for h in dom.all("th") if h.attrs.get("scope") == "col"][:4] == [
        "Clock",
        "Due",
        "Status",
        "Who acts",
    ]
    timeline = dom.texts("li")
    assert any("make application" in t for t in timeline)
    assert any("register" in t and "by cw" in t for t in timeline)

    # Legal aid sees its own org's deadlines and cases only; another org's case is "not found".
    mine = await page(api, "/ui/legal-aid?within_days=365", north)
    assert mine.texts("h1") == ["Deadlines of your clients"]
    assert load.running in mine.body and load.other_org not in mine.body
    assert (await page(api, f"/ui/cases/{load.running}", north)).texts("h1")
    gone = await page(api, f"/ui/cases/{load.running}", south, 404)
    assert gone.texts("h1") == ["Not found"]

    # Friendly refusals, as HTML, for the roles the API refuses.
    refused = await page(api, "/ui/supervision/overdue", cw, 403)
    assert refused.texts("h1") == ["You may not open this page"]
    assert "caseworker" in refused.body and load.overdue not in refused.body
    assert (await page(api, "/ui/legal-aid", sup, 403)).texts("h1")
    assert (await page(api, f"/ui/cases/{load.overdue}", cw)).texts("h1")


async def test_timeline_in_legal_order_with_both_times_and_retractions(api: Api) -> None:
    """Acts typed in weeks late: the timeline follows their legal dates.

    It shows what was retracted: the lodging clock's expiry, concluded before the lodging was
    typed in.
    """
    from tests.api.helpers import act, create

    api.user("cw", Role.CASEWORKER)
    cid = (await create(api, "cw", identified_on="2026-09-01"))["id"]
    await act(api, "cw", cid, "make_application", on="2026-09-01")
    await act(api, "cw", cid, "register", on="2026-09-02")
    await act(api, "cw", cid, "lodge", on="2026-09-05")
    # A contact typed in last, dated before the lodging.
    await act(api, "cw", cid, "record_contact", on="2026-09-03")
    dom = await page(api, f"/ui/cases/{cid}", await signin(api, "cw"))
    items = [li for li in dom.all("li") if li.attrs.get("class") in (None, "retracted")]
    dated = [li.text.split()[0] for li in items if li.text[:4] == "2026"]
    assert dated == sorted(dated), dated
    acts = [li.text for li in items if "by cw" in li.text]
    # The identification and the application on 1 Sep, then by legal date whatever the typing.
    assert [t.split()[0] for t in acts][1:] == [
        "2026-09-01",
        "2026-09-02",
        "2026-09-03",
        "2026-09-05",
    ]
    assert all("recorded" in t and "UTC" in t for t in acts)
    retracted = [li for li in items if li.attrs.get("class") == "retracted"]
    assert any("deadline expired" in li.text and "retracted by #" in li.text for li in retracted)
    assert dom.all("del")


async def test_monitor_sees_what_it_may_do_and_no_page_crashes(api: Api) -> None:
    """A monitor: home says what it may do, statistics are drawn, case pages are refused."""
    from tests.api.helpers import act, ago, create

    api.user("cw", Role.CASEWORKER)
    api.user("mon", Role.MONITOR)
    cid = (await create(api, "cw"))["id"]
    await act(api, "cw", cid, "record_monitor_consent", on=ago(0), given=True)
    mon = await signin(api, "mon")
    home = await page(api, "/ui", mon)
    assert "Monitoring" in home.texts("h2")
    assert "/ui/stats" in [a.attrs["href"] for a in home.all("a")]
    assert (await page(api, "/ui/stats", mon)).texts("h1") == ["Statistics"]
    # The dashboard has no monitor's case page (the API's consent rule is the one way in).
    for path in ("/ui/desk", "/ui/supervision/overdue", "/ui/legal-aid", f"/ui/cases/{cid}"):
        await page(api, path, mon, 403)


async def test_reception_and_detention_pages(api: Api) -> None:
    """Issue #19: centres over capacity, the detained list, the case page.

    The centres page flags a centre over capacity and names who is beyond it; the detained list
    shows the next review date and the vulnerable flag; the case page both.
    """
    from tests.api.helpers import act, ago, create

    api.user("cw", Role.CASEWORKER)
    api.user("sup", Role.SUPERVISOR)
    made = await api.http.post(
        "/reception/centres",
        json={"id": "ui-small", "name": "UI small centre", "jurisdiction": "rs", "capacity": 1},
        headers=api.auth("sup"),
    )
    assert made.status_code == 201, made.text
    first, second = [(await create(api, "cw", identified_on=ago(30)))["id"] for _ in range(2)]
    for case_id, placed in ((first, 20), (second, 10)):
        await act(api, "cw", case_id, "make_application", on=ago(30))
        await act(api, "cw", case_id, "assign_accommodation", on=ago(placed), centre="ui-small")
    held = (
        await create(
            api, "cw", jurisdiction="eu", identified_on=ago(30), vulnerabilities=["pregnancy"]
        )
    )["id"]
    for action in ("make_application", "register", "lodge"):
        await act(api, "cw", held, action, on=ago(25))
    ordered = await act(api, "cw", held, "order_detention", on=ago(3), ground="UI-Ground-Q")
    due = next(d["due"] for d in ordered["deadlines"] if d["clock"] == "detention_review")

    sup, cw = await signin(api, "sup"), await signin(api, "cw")
    centres = await page(api, "/ui/protection/centres", cw)
    (row,) = [r.text for r in centres.all("tr") if "ui-small" in r.text]
    assert "over capacity" in row and "Qarawi-Testperson" in row
    detained = await page(api, "/ui/protection/detained", sup)
    (row,) = [r.text for r in detained.all("tr") if "Zainab" in r.text]
    assert due in row and "vulnerable" in row and "UI-Ground-Q" not in detained.body
    await page(api, "/ui/protection/detained", cw, 403)
    case = await page(api, f"/ui/cases/{second}", cw)
    assert "over capacity" in case.body
    case = await page(api, f"/ui/cases/{held}", sup)
    assert "vulnerable in detention" in case.body and "UI-Ground-Q" not in case.body
