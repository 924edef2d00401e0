"""The legal-aid diary: lapsed deadlines over the API and on the page, names, feed, webhooks.

`GET /legal-aid/deadlines?lapsed=true` and the page's lapsed table; client names; the feed
panel with a CSRF-checked rotation; the webhooks' delivery log. A `missed` status takes a case
that moved on past an authority clock, so the test marks projected rows `missed` in the read
model (one per org), as the projection of such a case would.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from api.routes import legal_aid_pages
from db import legal_aid
from db.tables import DeadlineRecord, DeliveryRecord
from db.users import Role
from tests.api.helpers import Api
from tests.ui.helpers import (
    FORM,
    Dom,
    assert_accessible,
    build_caseload,
    csrf_of,
    open_case,
    signin,
    today,
)

DEADLINES = SQLModel.metadata.tables[DeadlineRecord.__tablename__]


def mark(api: Api, case_id: str, clock: str, status: str, days_ago: int) -> None:
    """Give one projected deadline a status and a due date `days_ago` days back."""
    with api.engine.begin() as conn:
        changed = conn.execute(
            sa.update(DEADLINES)
            .where(DEADLINES.c.case_id == case_id, DEADLINES.c.clock == clock)
            .values(status=status, due=today() - timedelta(days=days_ago))
        )
    assert changed.rowcount == 1


async def lapsed(api: Api, who: str) -> list[dict[str, object]]:
    """`GET /legal-aid/deadlines?lapsed=true` as `who`."""
    response = await api.http.get("/legal-aid/deadlines?lapsed=true", headers=api.auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_lapsed_deadlines_and_the_diary(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("north", Role.LEGAL_AID, "la-north")
    api.user("south", Role.LEGAL_AID, "la-south")
    load = await build_caseload(api.http, api.auth("cw"), api.engine)
    # Registered 70 days ago and never lodged: its lodging clock lapsed long before the window.
    old = await open_case(
        api.http,
        api.auth("cw"),
        4,
        [("make_application", 71, {}), ("register", 70, {})],
        "la-north",
        71,
    )
    for _ in range(200):
        rows = await asyncio.to_thread(
            lambda: legal_aid.lapsed_deadlines(api.engine, "la-north", today=today())
        )
        with Session(api.engine) as session:
            old_lodging = session.get(DeadlineRecord, (old, "lodging"))
        if any(d.case_id == load.overdue for d in rows) and old_lodging is not None:
            break
        await asyncio.sleep(0.1)
    assert old_lodging is not None and old_lodging.status == "expired"
    assert (today() - old_lodging.due).days > 30

    running = (
        await api.http.get("/legal-aid/deadlines?within_days=365", headers=api.auth("north"))
    ).json()["items"]
    clock_of_running = next(str(d["clock"]) for d in running if d["case_id"] == load.running)
    mark(api, load.running, clock_of_running, "missed", 3)  # a breach on record, 3 days ago
    other_clock = next(
        str(d["clock"])
        for d in (
            await api.http.get("/legal-aid/deadlines?within_days=365", headers=api.auth("south"))
        ).json()["items"]
        if d["case_id"] == load.other_org
    )
    mark(api, load.other_org, other_clock, "missed", 2)  # the other org's

    items = await lapsed(api, "north")
    keys = {(d["case_id"], d["clock"], d["status"]) for d in items}
    assert (load.overdue, "lodging", "expired") in keys
    assert (load.running, clock_of_running, "missed") in keys
    assert all(d["case_id"] not in (old, load.other_org) for d in items), items
    assert all(d["status"] in ("expired", "missed") for d in items)
    dues = [str(d["due"]) for d in items]
    assert dues == sorted(dues)
    assert all(0 <= (today() - datetime.fromisoformat(due).date()).days <= 30 for due in dues)
    # The deadline object's shape, as in the upcoming list.
    lodging = next(d for d in items if d["clock"] == "lodging")
    assert {"rule", "citation", "trigger", "period", "actor", "pack"} <= set(lodging)
    assert [(d["case_id"], d["status"]) for d in await lapsed(api, "south")] == [
        (load.other_org, "missed")
    ]
    # Without `lapsed`, the list is the upcoming one: running and paused only.
    upcoming = (
        await api.http.get("/legal-aid/deadlines?within_days=365", headers=api.auth("north"))
    ).json()["items"]
    assert {d["status"] for d in upcoming} <= {"running", "paused"}
    assert (
        await api.http.get("/legal-aid/deadlines?lapsed=true", headers=api.auth("cw"))
    ).status_code == 403

    # The page: clients by name in both tables, nothing of the other org.
    north = await signin(api.http, api.tokens["north"])
    response = await api.http.get("/ui/legal-aid?within_days=365", headers=north)
    assert response.status_code == 200, response.text
    dom = Dom(response.text)
    assert_accessible(dom)
    assert dom.texts("h2")[:4] == [
        "Upcoming",
        "Lapsed in the last 30 days",
        "Subscribe in your calendar",
        "Webhooks",
    ]
    lapsed_rows = [tr.text for tr in dom.all("tr") if "expired" in tr.text or "missed" in tr.text]
    assert any(t.startswith("Dashboard1 Person001") and "lodging" in t for t in lapsed_rows)
    assert any(t.startswith("Dashboard2 Person002") and "missed" in t for t in lapsed_rows)
    assert "Person004" not in " ".join(lapsed_rows)  # lapsed too long ago
    assert "Dashboard2 Person002" in dom.body and "Person003" not in dom.body
    assert load.other_org not in dom.body

    # The subscribe panel: the absolute feed address; a new secret only through the CSRF form.
    assert "http://127.0.0.1:8000/legal-aid/calendar.ics?feed=" in dom.body
    refused = await api.http.post(
        "/ui/legal-aid/feed-secret", content="csrf=forged", headers={**north, **FORM}
    )
    assert refused.status_code == 403
    rotated = await api.http.post(
        "/ui/legal-aid/feed-secret", content=f"csrf={csrf_of(dom)}", headers={**north, **FORM}
    )
    assert rotated.status_code == 200, rotated.text
    shown = Dom(rotated.text)
    assert_accessible(shown)
    feed = shown.by_id("feed-url")
    assert feed is not None
    url = urlsplit(feed.attrs["value"])
    assert url.scheme == "http" and url.netloc == "127.0.0.1:8000"
    calendar = await api.http.get(f"{url.path}?{url.query}")  # no bearer token: the feed secret
    assert calendar.status_code == 200
    assert calendar.headers["content-type"].startswith("text/calendar")
    assert load.running in calendar.text and load.other_org not in calendar.text

    # Webhooks with their delivery log.
    hook = await api.http.post(
        "/legal-aid/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=api.auth("north")
    )
    assert hook.status_code == 201, hook.text
    hook_id = hook.json()["id"]
    empty = Dom((await api.http.get("/ui/legal-aid", headers=north)).text)
    assert f"Webhook {hook_id}: http://127.0.0.1:9/hook" in empty.texts("h3")
    assert "No delivery attempted yet." in empty.body
    with Session(api.engine) as session:
        for attempt, (code, ok) in enumerate([(500, False), (200, True)], start=1):
            session.add(
                DeliveryRecord(
                    webhook_id=hook_id,
                    case_id=load.running,
                    clock=clock_of_running,
                    due=today(),
                    days_left=0,
                    reminder_key=f"k-{attempt}",
                    attempt=attempt,
                    status_code=code,
                    ok=ok,
                    attempted_at=datetime.now(UTC) + timedelta(seconds=attempt),
                )
            )
        session.commit()
    logged = Dom((await api.http.get("/ui/legal-aid", headers=north)).text)
    assert_accessible(logged)
    results = [tr.text for tr in logged.all("tr") if "delivered" in tr.text or "failed" in tr.text]
    assert len(results) == 2
    assert "delivered (200)" in results[0] and "failed: 500" in results[1]  # newest first


async def test_the_diary_finds_a_client_without_the_name_in_a_url(api: Api) -> None:
    api.user("cw", Role.CASEWORKER)
    api.user("north", Role.LEGAL_AID, "la-north")
    lodged: list[tuple[str, int, dict[str, object]]] = [
        ("make_application", 12, {}),
        ("register", 11, {}),
        ("lodge", 10, {}),
    ]
    cw = api.auth("cw")
    amina = await open_case(api.http, cw, 1, lodged, "la-north", 12, name=("Amina", "Haddad"))
    other = await open_case(api.http, cw, 2, lodged, "la-north", 12, name=("Oleg", "Petrenko"))
    # The same name at another org: never found by this one.
    south = await open_case(api.http, cw, 3, lodged, "la-south", 12, name=("Amina", "Haddad"))
    for _ in range(200):
        rows = await asyncio.to_thread(legal_aid.org_deadlines, api.engine, "la-north")
        if {amina, other} <= {d.case_id for d in rows}:
            break
        await asyncio.sleep(0.1)
    north = await signin(api.http, api.tokens["north"])
    page = Dom((await api.http.get("/ui/legal-aid?within_days=365", headers=north)).text)
    assert "Oleg Petrenko" in page.body and "Amina Haddad" in page.body

    found = await api.http.post(
        "/ui/legal-aid",
        content=f"csrf={csrf_of(page)}&within_days=365&client=amina+hadad",  # typed as heard
        headers={**north, **FORM},
    )
    assert found.status_code == 200, found.text
    dom = Dom(found.text)
    assert_accessible(dom)
    assert "1 client found" in dom.body
    clients = [th.text for th in dom.all("th") if th.attrs.get("scope") == "row"]
    assert clients and set(clients) == {"Amina Haddad"}, clients
    assert "Oleg Petrenko" not in dom.body and amina in dom.body and south not in dom.body
    field = dom.by_id("client")
    assert field is not None and field.attrs["value"] == "amina hadad"  # kept in its field
    assert all("amina" not in a.attrs.get("href", "").lower() for a in dom.all("a"))
    # Changing the horizon keeps the clients found: that form posts the search again.
    horizon = [f for f in dom.all("form") if f.attrs.get("action") == "/ui/legal-aid"][1]
    assert horizon.attrs["method"] == "post"
    kept = [i for i in dom.all("input") if i.attrs.get("name") == "client"]
    assert [i.attrs.get("value") for i in kept] == ["amina hadad", "amina hadad"]
    narrower = await api.http.post(
        "/ui/legal-aid",
        content=f"csrf={csrf_of(page)}&client=amina+hadad&within_days=30",
        headers={**north, **FORM},
    )
    assert "1 client found" in Dom(narrower.text).body

    nobody = await api.http.post(
        "/ui/legal-aid",
        content=f"csrf={csrf_of(page)}&within_days=365&client=Nobody+Known",
        headers={**north, **FORM},
    )
    assert "No deadline of the clients found falls due" in Dom(nobody.text).body
    forged = await api.http.post(
        "/ui/legal-aid", content="csrf=forged&client=Amina", headers={**north, **FORM}
    )
    assert forged.status_code == 403
    empty = await api.http.post(
        "/ui/legal-aid", content=f"csrf={csrf_of(page)}&client=", headers={**north, **FORM}
    )
    assert empty.status_code == 422


def _table_rows(html: str, table: str) -> list[tuple[str, str]]:
    """(case id, clock) of each row of the page's table `table`, in order."""
    body = html.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    found = []
    for row in rows:
        case = re.search(r'href="/ui/cases/([^"]+)"', row)
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        assert case is not None and len(cells) >= 2, row
        found.append((case.group(1), cells[1].replace(" ", "_")))
    return found


async def _walk(api: Api, session: dict[str, str], table: str, link: str) -> list[list[Any]]:
    """Every page of one of the diary's tables, following its "Next page" link."""
    pages: list[list[Any]] = []
    url: str | None = "/ui/legal-aid?within_days=365"
    while url is not None:
        assert len(pages) < 10, "the next-page links go round"
        response = await api.http.get(url, headers=session)
        assert response.status_code == 200, response.text[:500]
        dom = Dom(response.text)
        assert_accessible(dom)
        if pages:  # a later page links back to the first
            assert dom.by_id("first-page") is not None
        pages.append(_table_rows(response.text, table))
        following = dom.by_id(link)
        url = following.attrs["href"] if following is not None else None
    return pages


async def test_the_diary_pages_a_big_organisations_tables(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each table shows `DIARY_PAGE` rows and a link to the next; together, the whole list."""
    monkeypatch.setattr(legal_aid_pages, "DIARY_PAGE", 2)
    api.user("cw", Role.CASEWORKER)
    api.user("north", Role.LEGAL_AID, "la-north")
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 6, {}),
        ("register", 5, {}),
    ]
    # Five registered cases: a lodging deadline running in each.
    cases = [await open_case(api.http, api.auth("cw"), n, steps, "la-north", 6) for n in range(5)]
    whole = (
        await api.http.get("/legal-aid/deadlines?within_days=365", headers=api.auth("north"))
    ).json()["items"]
    expected = [(d["case_id"], d["clock"]) for d in whole]
    assert len(expected) >= 5, expected  # enough for three pages of two

    north = await signin(api.http, api.tokens["north"])
    pages = await _walk(api, north, "upcoming", "upcoming-next")
    assert all(len(page) == 2 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 2
    assert [row for page in pages for row in page] == expected

    # Three deadlines lapsed (expired) in the last days: the lapsed table pages the same way.
    for days, case_id in zip((3, 2, 1), cases, strict=False):
        mark(api, case_id, "lodging", "expired", days)
    lapsed_pages = await _walk(api, north, "lapsed", "lapsed-next")
    assert [len(page) for page in lapsed_pages] == [2, 1]
    assert [row for page in lapsed_pages for row in page] == [(c, "lodging") for c in cases[:3]]

    # A cursor the diary did not hand out: 422 on the page, nothing else shown.
    for name in ("cursor", "lapsed_cursor"):
        refused = await api.http.get(f"/ui/legal-aid?{name}=not-a-cursor", headers=north)
        assert refused.status_code == 422 and f"{name}:" in Dom(refused.text).body
