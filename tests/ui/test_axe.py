"""Every dashboard page through axe-core in Chromium, on a laptop and on a phone.

axe-core comes from `tests/ui/axe` (pinned by its lock file, installed by `make install`); the
test evaluates it in each page over the DevTools protocol, so the pages never reference it and
their Content-Security-Policy stays as strict as users get it. A page fails on any violation of
impact `serious` or `critical`, and on any sideways scroll (the page wider than the window: a
wide table scrolls inside its own region instead). `/docs` and `/redoc` are not the dashboard's
own pages and are left out.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy.engine import Engine

from db.users import Role, create_user
from tests.ui.helpers import build_caseload, today
from tests.ui.live import DESKTOP, PHONE, signed_url

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"

FAILING_IMPACTS = ("serious", "critical")

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((n) => n.target.map(String).join(" ")),
  }));
}"""

WIDTHS = """() => {
  const limit = window.innerWidth;
  const clips = (e) => getComputedStyle(e).overflowX !== "visible";
  // Inside a scrolling region (a wide table's) sticking out is fine: it is clipped there.
  const clipped = (e) => {
    for (let up = e.parentElement; up && up !== document.body; up = up.parentElement) {
      if (clips(up)) return true;
    }
    return false;
  };
  // An element sticks out by its box, or by content that overflows it (a long unbroken word).
  const right = (e) => Math.max(
    e.getBoundingClientRect().right,
    clips(e) ? 0 : e.getBoundingClientRect().left + e.scrollWidth,
  );
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + [...e.classList].map((c) => "." + c).join("");
  const culprits = [...document.body.querySelectorAll("*")]
    .filter((e) => right(e) > limit + 0.5 && !clipped(e))
    .map((e) => `${name(e)} (to ${Math.round(right(e))} px)`);
  return {
    window: limit,
    html: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
    culprits,
  };
}"""


@functools.cache
def axe_source() -> str:
    """axe-core's browser bundle, as `make install` put it under tests/ui/axe."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make install` (npm ci in tests/ui/axe)")
    return AXE.read_text(encoding="utf-8")


async def audit(page: Page) -> list[str]:
    """The page's serious or critical axe violations and any sideways scroll, one line each."""
    # Evaluated over the DevTools protocol, which the page's script-src 'none' does not govern.
    await page.evaluate(axe_source())
    violations: list[dict[str, Any]] = await page.evaluate(RUN_AXE)
    where = urlsplit(page.url).path
    problems = [
        f"{where}: {v['id']} ({v['impact']}: {v['help']}) at {v['targets']}"
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]
    widths: dict[str, Any] = await page.evaluate(WIDTHS)
    for part in ("html", "body"):
        if widths[part] > widths["window"]:
            problems.append(
                f"{where}: scrolls sideways ({part} is {widths[part]} px wide in a "
                f"{widths['window']} px window; sticking out: {widths['culprits']})"
            )
    return problems


@pytest.mark.parametrize("context", [DESKTOP, PHONE], indirect=True, ids=["1280px", "390px"])
async def test_every_page_passes_axe_without_sideways_scroll(
    context: BrowserContext, live: httpx.AsyncClient, engine: Engine
) -> None:
    sup = create_user(engine, "sup", Role.SUPERVISOR)
    cw = create_user(engine, "cw", Role.CASEWORKER)
    north = create_user(engine, "north", Role.LEGAL_AID, "la-north")
    border = create_user(engine, "border", Role.BORDER_OFFICER)
    admin = create_user(engine, "admin", Role.ADMIN)
    load = await build_caseload(live, {"Authorization": f"Bearer {cw}"}, engine)
    base = str(live.base_url).rstrip("/")
    page = await context.new_page()
    problems: list[str] = []

    async def visit(path: str, heading: str) -> None:
        await page.goto(base + path)
        await check(heading)

    async def check(heading: str) -> None:
        # The page is there (its one h1) before axe looks at it.
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        problems.extend(await audit(page))

    async def sign_in_as(token: str, path: str, heading: str) -> None:
        await page.goto(await signed_url(live, token, path))
        await check(heading)

    # Anonymous: the sign-in form, refused once (its error state), then signed in for real.
    await visit("/ui/signin", "Sign in")
    await page.get_by_label("Token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    await check("Sign in")
    await page.get_by_label("Token").fill(sup)
    await page.get_by_role("button", name="Sign in").click()
    await check("Dashboard")

    # The supervisor: search, a case, the four lists, a bulk reassignment, statistics, errors.
    await page.get_by_label("Name, date of birth").fill("Dashboard1 Person001")
    await page.get_by_role("button", name="Search").click()
    await check("Find a person")
    await expect(page.get_by_role("table")).to_contain_text("Dashboard1 Person001")
    # A case page with its deadlines table and timeline (every axe rule applies here too).
    await visit(f"/ui/cases/{load.overdue}", f"Case {load.overdue}")
    await expect(page.get_by_role("table")).to_contain_text("lodging")
    await expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    for slug, title in (
        ("stuck", "Stuck cases"),
        ("abandoned", "Presumed abandoned cases"),
        ("entitled-blocked", "Entitled but blocked cases"),
        ("overdue", "Overdue cases"),
    ):
        await visit(f"/ui/supervision/{slug}", title)
    await page.get_by_role("checkbox").first.check()
    await page.get_by_label("Reassign the selected cases to").select_option("cw")
    await page.get_by_role("button", name="Reassign").click()
    await check("Reassignment to cw")
    await visit("/ui/stats", "Statistics")
    await visit("/ui/cases/no-such-case", "Not found")
    await visit("/ui/legal-aid", "You may not open this page")

    # The caseworker's desk, now with the reassigned case on it.
    await sign_in_as(cw, "/ui/desk", "My cases")
    await expect(page.get_by_role("table")).to_contain_text("Dashboard1 Person001")
    # The case page's action forms, every one of them open, then one refused (409) in place.
    await visit(f"/ui/cases/{load.overdue}", f"Case {load.overdue}")
    await page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    await check(f"Case {load.overdue}")
    lodged = await live.post(
        f"/cases/{load.overdue}/actions/lodge",
        json={"on": today().isoformat()},
        headers={"Authorization": f"Bearer {sup}"},
    )
    assert lodged.status_code == 200, lodged.text
    await page.locator("#act-lodge").get_by_role("button", name="Lodge", exact=True).click()
    await expect(page.locator("#act-lodge-error")).to_contain_text("Not recorded")
    await check(f"Case {load.overdue}")
    # The sealed detail's own page (issue #19's detail read back), linked from the case page.
    await visit(
        f"/ui/cases/{load.overdue}/protection-detail", f"Protection detail of case {load.overdue}"
    )

    # Legal aid: the start page, the diary, a client found in it, a new feed link, a case.
    await sign_in_as(north, "/ui", "Dashboard")
    await visit("/ui/legal-aid?within_days=365", "Deadlines of your clients")
    await page.get_by_label("Client's name, date of birth or case reference").fill("Dashboard2")
    await page.get_by_role("button", name="Find", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("found")
    await check("Deadlines of your clients")
    await page.get_by_role("button", name="Make a new feed link").click()
    feed = page.get_by_label("Your new feed link")
    await expect(feed).to_have_value(re.compile(r"/legal-aid/calendar\.ics\?feed=.+"))
    await check("Deadlines of your clients")
    await visit(f"/ui/cases/{load.running}", f"Case {load.running}")

    # Roles with little to see: a border officer's start page, an admin's.
    await sign_in_as(border, "/ui", "Dashboard")
    await sign_in_as(admin, "/ui", "Dashboard")

    assert not problems, "\n".join(problems)
