"""Two users' errands end to end in Chromium: a supervisor's overdue list, a legal aid diary.

Debian's chromium under Playwright, against the app under uvicorn with a real worker, the
session's Temporal dev server and a real database (`tests/ui/live.py`). The pages are used as a
person uses them, by the labels and roles of their fields, links and buttons (so the tests also
prove those are named); the results are checked over the API and the calendar feed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from icalendar import Calendar
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy.engine import Engine

from db import legal_aid, supervision
from db.users import Role, create_user
from tests.ui.helpers import ago, open_case, today
from tests.ui.live import signed_url

NEVER_LODGED: list[tuple[str, int, dict[str, Any]]] = [
    ("make_application", 26, {}),
    ("register", 25, {}),
]
"""Serbian steps to an overdue case: registered 25 days ago and never lodged, so the authority's
15-day lodging clock (from registration) expired."""

UNDECIDED: list[tuple[str, int, dict[str, Any]]] = [
    ("make_application", 215, {}),
    ("register", 214, {}),
    ("lodge", 213, {}),
]
"""Montenegrin steps to an overdue case (there lodging is the applicant's clock): lodged seven
months ago and not decided, so the six-month decision clock expired."""


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (polling, at most 20 s) until `check()`, run in a thread, is true: the read model."""
    for _ in range(200):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_supervisor_filters_downloads_and_reassigns_overdue_cases(
    context: BrowserContext, live: httpx.AsyncClient, engine: Engine
) -> None:
    sup = create_user(engine, "sup", Role.SUPERVISOR)
    cw = create_user(engine, "cw", Role.CASEWORKER)
    create_user(engine, "cw2", Role.CASEWORKER)
    staff = {"Authorization": f"Bearer {cw}"}
    serbian = [await open_case(live, staff, n, NEVER_LODGED, None, 26) for n in (1, 2)]
    montenegrin = [
        await open_case(live, staff, n, UNDECIDED, None, 216, jurisdiction="me") for n in (3, 4, 5)
    ]
    await until(
        lambda: (
            {*serbian, *montenegrin}
            <= {
                i["id"]
                for i in supervision.overdue(engine, supervision.Filters(), today=today()).items
            }
        ),
        "the overdue list to show both jurisdictions",
    )
    as_sup = {"Authorization": f"Bearer {sup}"}
    reference = {
        case: (await live.get(f"/cases/{case}", headers=as_sup)).json()["reference"]
        for case in (*serbian, *montenegrin)
    }
    assert all(reference.values()), reference

    page = await context.new_page()
    await page.goto(await signed_url(live, sup, "/ui/supervision/overdue"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overdue cases")
    for case in (*serbian, *montenegrin):
        await expect(page.get_by_role("link", name=reference[case], exact=True)).to_be_visible()

    # Filtered to Montenegro with the page's own form: its cases only.
    await page.get_by_label("Jurisdiction").select_option("me")
    await page.get_by_role("button", name="Show", exact=True).click()
    await expect(page).to_have_url(re.compile(r"[?&]jurisdiction=me(&|$)"))
    await expect(page.get_by_role("table")).to_have_accessible_name(re.compile(r": 3 shown of 3$"))
    for case in montenegrin:
        await expect(page.get_by_role("link", name=reference[case], exact=True)).to_be_visible()
    for case in serbian:
        await expect(page.get_by_role("link", name=reference[case], exact=True)).to_have_count(0)

    # The CSV behind the page's link is the filtered list: exactly those cases.
    async with page.expect_download() as started:
        await page.get_by_role("link", name="Download this list as CSV").click()
    download = await started.value
    saved = await download.path()
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert sorted(row["id"] for row in rows) == sorted(montenegrin), rows
    assert {row["jurisdiction"] for row in rows} == {"me"}

    # Two of them ticked and reassigned together.
    picked, left = montenegrin[:2], montenegrin[2]
    for case in picked:
        await page.get_by_label(f"select {reference[case]}", exact=True).check()
    await page.get_by_label("Reassign the selected cases to").select_option("cw2")
    await page.get_by_role("button", name="Reassign", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reassignment to cw2")
    await expect(page.get_by_role("status")).to_have_text("2 reassigned, 0 skipped, 0 failed.")

    async def assignee(case: str) -> Any:
        view = await live.get(f"/cases/{case}", headers=as_sup)
        assert view.status_code == 200, view.text
        return view.json()["assignee"]

    assert [await assignee(case) for case in picked] == ["cw2", "cw2"]
    assert await assignee(left) != "cw2"
    for case in serbian:
        assert await assignee(case) != "cw2"


async def test_legal_aid_finds_a_clients_appeal_deadline_and_its_calendar_feed(
    context: BrowserContext, live: httpx.AsyncClient, engine: Engine
) -> None:
    cw = create_user(engine, "cw", Role.CASEWORKER)
    north = create_user(engine, "north", Role.LEGAL_AID, "la-north")
    staff = {"Authorization": f"Bearer {cw}"}
    lodged: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 60, {}),
        ("register", 59, {}),
        ("lodge", 58, {}),
    ]
    # Refused and notified three days ago: the 15-day appeal window runs for the client.
    client = await open_case(
        live,
        staff,
        1,
        [*lodged, ("decide", 4, {"outcome": "rejected"}), ("notify_decision", 3, {})],
        "la-north",
        60,
        name=("Amina", "Haddad"),
    )
    other = await open_case(live, staff, 2, lodged, "la-north", 60, name=("Oleg", "Petrenko"))
    view = (await live.get(f"/cases/{client}", headers=staff)).json()
    appeal = next(d for d in view["deadlines"] if d["clock"] == "appeal")
    assert appeal["status"] == "running", appeal
    due = date.fromisoformat(appeal["due"])

    def listed() -> bool:
        pairs = {(d.case_id, d.clock) for d in legal_aid.org_deadlines(engine, "la-north")}
        return (client, "appeal") in pairs and other in {case for case, _ in pairs}

    await until(listed, "the diary to list both clients")
    base = str(live.base_url).rstrip("/")

    # Signed in through the real form, on the way to the diary.
    page = await context.new_page()
    await page.goto(f"{base}/ui/legal-aid")
    await page.get_by_label("Token").fill(north)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Deadlines of your clients")
    await expect(page.get_by_text("Oleg Petrenko")).not_to_have_count(0)

    # The client's name typed into the diary's search: their deadlines only, the appeal's too.
    await page.get_by_label("Client's name, date of birth or case reference").fill("Amina Haddad")
    await page.get_by_role("button", name="Find", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("1 client found")
    upcoming = page.get_by_role("table", name=re.compile(r"^Running and paused deadlines"))
    row = upcoming.get_by_role("row").filter(has_text="appeal")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Amina Haddad")
    await expect(row).to_contain_text(due.isoformat())
    await expect(page.get_by_text("Oleg Petrenko")).to_have_count(0)
    assert "amina" not in page.url.lower() and "haddad" not in page.url.lower()

    # The subscribe panel's feed link, copied from the page as the user would.
    await page.get_by_role("button", name="Make a new feed link").click()
    feed_url = await page.get_by_label(re.compile(r"^Your new feed link")).input_value()
    assert feed_url.startswith(f"{base}/legal-aid/calendar.ics?feed="), feed_url
    async with httpx.AsyncClient(timeout=30) as calendar_app:  # no token: the link alone
        feed = await calendar_app.get(feed_url)
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("text/calendar")
    events = {
        str(e["uid"]): e.decoded("dtstart") for e in Calendar.from_ical(feed.content).walk("VEVENT")
    }
    assert events[f"{client}-appeal@asylumflow"] == due, events


async def focus_by_tab(page: Page, target: str) -> None:
    """Press Tab, as a keyboard user does, until the control named or with id `target` has focus.

    A date field's day, month and year each take a Tab of their own, as in any browser.
    """
    seen: list[str] = []
    for _ in range(300):
        await page.keyboard.press("Tab")
        name, ident = await page.evaluate(
            "() => [(document.activeElement.innerText || '').trim(), document.activeElement.id]"
        )
        if target in (name, ident):
            return
        seen.append(ident or name[:30])
    raise AssertionError(f"Tab never reached {target!r}: {seen}")


async def test_caseworker_finds_a_person_by_a_misspelt_name_and_acts_through_the_forms(
    context: BrowserContext, live: httpx.AsyncClient, engine: Engine
) -> None:
    cw = create_user(engine, "cw", Role.CASEWORKER)
    colleague = {"Authorization": f"Bearer {create_user(engine, 'cw-b', Role.CASEWORKER)}"}
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 3, {}),
        ("register", 2, {}),
    ]
    case = await open_case(live, colleague, 7, steps, None, 4, name=("Mohammad", "Al-Rashidi"))
    await open_case(live, colleague, 8, steps, None, 4, name=("Amina", "Haddad"))
    reference = (await live.get(f"/cases/{case}", headers=colleague)).json()["reference"]

    page = await context.new_page()
    await page.goto(await signed_url(live, cw, "/ui"))
    # Typed as heard: another transliteration, a letter short.
    await page.get_by_label("Name, date of birth (YYYY-MM-DD) or case reference").fill(
        "Muhamad Al Rashidy"
    )
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Find a person")
    assert "Rashid" not in page.url and "Muhamad" not in page.url  # no name in a URL
    await expect(page.get_by_role("rowheader", name="Mohammad Al-Rashidi")).to_be_visible()
    await expect(page.get_by_role("rowheader", name="Amina Haddad")).to_have_count(0)
    await page.get_by_role("link", name=reference, exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {case}")

    # 1. Lodging, while a colleague lodged it from another desk: 409, shown in the form, with
    #    the stage the case is at now; what was typed is still there.
    done = await live.post(
        f"/cases/{case}/actions/lodge", json={"on": today().isoformat()}, headers=colleague
    )
    assert done.status_code == 200, done.text
    lodge = page.locator("#act-lodge")
    await lodge.locator("summary").click()
    await lodge.get_by_label("Note").fill("lodged at the counter")
    await lodge.get_by_role("button", name="Lodge", exact=True).click()
    refusal = page.locator("#act-lodge-error")
    await expect(refusal).to_contain_text("Not recorded")
    await expect(refusal).to_contain_text("now at stage “lodged”")
    await expect(page.locator("#act-lodge").get_by_label("Note")).to_have_value(
        "lodged at the counter"
    )

    # 2. A contact recorded with the keyboard alone: Tab to the form, open it, type, submit.
    await page.goto(f"{str(live.base_url).rstrip('/')}/ui/cases/{case}")
    await focus_by_tab(page, "Record contact")
    await page.keyboard.press("Enter")  # opens the disclosure
    await focus_by_tab(page, "act-record_contact-note")  # past the date: today, as it is
    await page.keyboard.type("phoned about the interview")
    await focus_by_tab(page, "Record contact")  # the form's button, after the note
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Recorded: record contact.")

    # 3. The procedure, a choice from the model's list, with a legal date typed in the past.
    procedure = page.locator("#act-assign_procedure")
    await procedure.locator("summary").click()
    await procedure.get_by_label("Date of the act *").fill(ago(1))
    await procedure.get_by_label("Procedure *").select_option("accelerated")
    await procedure.get_by_role("button", name="Assign procedure", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Recorded: assign procedure.")

    # Over the API: one lodging (the colleague's), the contact and the procedure as typed.
    history = await live.get(f"/cases/{case}/history", headers=colleague)
    items = history.json()["items"]
    acts = [(i.get("action"), i["on"], i.get("actor")) for i in items if i.get("action")]
    assert [a for a in acts if a[0] == "lodge"] == [("lodge", today().isoformat(), "cw-b")]
    contact = [i for i in items if i.get("action") == "record_contact"]
    assert len(contact) == 1 and contact[0]["actor"] == "cw"
    assert contact[0]["note"] == "phoned about the interview"
    assigned = [i for i in items if i.get("action") == "assign_procedure"]
    assert [(i["on"], i["actor"]) for i in assigned] == [(ago(1), "cw")]
    view = (await live.get(f"/cases/{case}", headers=colleague)).json()
    assert view["procedure"] == "accelerated"
