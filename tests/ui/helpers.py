"""Helpers for the dashboard tests: a small DOM reader, accessibility checks and a caseload."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from db import legal_aid, supervision

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def today() -> date:
    """Today's UTC date, read at each call (a run across midnight sees the new day)."""
    return datetime.now(UTC).date()


@dataclass
class Element:
    """One element with its attributes and all the text inside it."""

    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The element's text with whitespace collapsed."""
        return " ".join("".join(self.parts).split())


class Dom(HTMLParser):
    """Every element of a page, in document order (enough to assert on, no dependency)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    def all(self, tag: str) -> list[Element]:
        """Every element with this tag."""
        return [e for e in self.elements if e.tag == tag]

    def texts(self, tag: str) -> list[str]:
        """The text of every element with this tag."""
        return [e.text for e in self.all(tag)]

    def by_id(self, ident: str) -> Element | None:
        """The element with this id."""
        return next((e for e in self.elements if e.attrs.get("id") == ident), None)

    @property
    def body(self) -> str:
        """The text of the whole page."""
        return " ".join(e.text for e in self.all("body"))


def assert_accessible(dom: Dom) -> None:
    """The checks every dashboard page must pass (lang, headings, labels, tables, skip link)."""
    html = dom.all("html")
    assert html and html[0].attrs.get("lang") == "en"
    assert len(dom.all("h1")) == 1, dom.texts("h1")
    levels = [int(e.tag[1]) for e in dom.elements if e.tag in {"h1", "h2", "h3", "h4"}]
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    labelled = {e.attrs.get("for") for e in dom.all("label")}
    for control in dom.all("input") + dom.all("select") + dom.all("textarea"):
        if control.attrs.get("type") in {"hidden", "submit"}:
            continue
        assert control.attrs.get("id") in labelled, control.attrs
    assert len(dom.all("caption")) == len(dom.all("table"))
    assert all(th.attrs.get("scope") in {"col", "row"} for th in dom.all("th"))
    skip = dom.all("a")[0]
    assert skip.attrs.get("href") == "#main" and "Skip" in skip.text
    assert dom.by_id("main") is not None


def ago(days: int) -> str:
    """The ISO date `days` before today."""
    return (today() - timedelta(days=days)).isoformat()


async def open_case(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    n: int,
    steps: list[tuple[str, int, dict[str, Any]]],
    org: str | None,
    identified: int,
    *,
    jurisdiction: str = "rs",
    name: tuple[str, str] | None = None,
) -> str:
    """Open a case for person `n` and take past-dated `steps` (action, days ago, body).

    Serbian unless `jurisdiction` says otherwise; the person is `Dashboard<n> Person<nnn>` unless
    `name` gives a given and a family name (the name search is lenient: these look alike).
    """
    given, family = name or (f"Dashboard{n}", f"Person{n:03d}")
    response = await http.post(
        "/cases",
        json={
            "jurisdiction": jurisdiction,
            "person": {
                "given_name": given,
                "family_name": family,
                "date_of_birth": (date(1980, 1, 1) + timedelta(days=400 * n)).isoformat(),
                "nationality": "AFG",
                "sex": "male",
            },
            "identified_on": ago(identified),
            "identified_at": "inland",
            "legal_aid_org": org,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    for action, days_ago, body in steps:
        done = await http.post(
            f"/cases/{case_id}/actions/{action}",
            json={"on": ago(days_ago), **body},
            headers=headers,
        )
        assert done.status_code == 200, done.text
    return case_id


@dataclass
class Caseload:
    """Three cases: overdue (org north), lodged and running (north), running (south)."""

    overdue: str
    running: str
    other_org: str


async def build_caseload(
    http: httpx.AsyncClient, headers: dict[str, str], engine: Engine
) -> Caseload:
    """Open the caseload and wait until the read model lists it."""
    applied: list[tuple[str, int, dict[str, Any]]] = [
        ("make_application", 12, {}),
        ("register", 11, {}),
        ("lodge", 10, {}),
    ]
    # Registered 25 days ago and never lodged: the 15-day lodging clock expired (overdue).
    overdue = await open_case(
        http, headers, 1, [("make_application", 26, {}), ("register", 25, {})], "la-north", 26
    )
    running = await open_case(http, headers, 2, applied, "la-north", 12)
    other = await open_case(http, headers, 3, applied, "la-south", 12)

    def ready() -> bool:
        listed = supervision.overdue(engine, supervision.Filters(), today=today())
        north = {d.case_id for d in legal_aid.org_deadlines(engine, "la-north")}
        south = {d.case_id for d in legal_aid.org_deadlines(engine, "la-south")}
        return overdue in {i["id"] for i in listed.items} and running in north and other in south

    for _ in range(200):
        if await asyncio.to_thread(ready):
            return Caseload(overdue, running, other)
        await asyncio.sleep(0.1)
    raise AssertionError("the read model did not catch up with the caseload")


def csrf_of(page: str | Dom) -> str:
    """The CSRF token in a page's forms (they all carry the same one)."""
    dom = Dom(page) if isinstance(page, str) else page
    found = {i.attrs["value"] for i in dom.all("input") if i.attrs.get("name") == "csrf"}
    assert len(found) == 1, found
    return found.pop()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post_signin(
    http: httpx.AsyncClient, token: str, next_path: str = "/ui"
) -> httpx.Response:
    """Sign in as a browser does: fetch the form (its CSRF cookie and field), then post it."""
    form = await http.get("/ui/signin")
    assert form.status_code == 200, form.text
    signin_cookie = form.cookies["asylumflow_signin"]
    return await http.post(
        "/ui/signin",
        content=f"csrf={csrf_of(form.text)}&token={token}&next={next_path}",
        headers={**FORM, "Cookie": f"asylumflow_signin={signin_cookie}"},
    )


async def signin(http: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Sign in through the form; the Cookie header for the session it starts."""
    response = await post_signin(http, token)
    assert response.status_code == 303, response.text
    return {"Cookie": f"asylumflow_session={response.cookies['asylumflow_session']}"}
