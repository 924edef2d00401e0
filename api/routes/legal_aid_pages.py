"""The legal-aid diary at `/ui/legal-aid`: clients' deadlines by name, feed, webhooks.

Upcoming and lapsed deadlines with the client's name and the case's reference, all of them or
those of the clients found by a name, date of birth or reference (a POSTed form, so no name
enters a URL; the same search as `POST /cases/search`, within the org); the calendar feed to
subscribe to; the organisation's webhooks with their delivery log.
A legal aid user reads its own organisation's clients only; every query takes the org. The feed
secret is stored hashed, so the page can show the feed's full link only right after a rotation
(a CSRF-checked form POST), and never in a URL of the dashboard itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.deps import SessionUser, UiSessionDep
from api.errors import ApiError, Forbidden, Unprocessable
from api.routes.ui import check_csrf, error_page, posted_form, render, require, to_signin
from db import legal_aid
from db.cursor import InvalidCursor
from db.search import search
from db.tables import UserRecord
from db.users import Role
from models.rules import calendar_today

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)

WITHIN_CHOICES = (7, 30, 90, 365)
"""Horizons, in days, the legal-aid view offers."""

DELIVERIES_SHOWN = 10
"""Delivery attempts shown per webhook (the newest; the API pages through all of them)."""

MAX_WITHIN = 3660
"""The farthest horizon, in days, a diary may look ahead (as `GET /legal-aid/deadlines`)."""

MAX_CLIENT_QUERY = 200
"""Characters a client search may have (as `POST /cases/search`)."""

CLIENTS_FOUND = 50
"""Clients a search narrows the diary to, best matches first (typing more narrows further)."""

DIARY_PAGE = 100
"""Rows of each of the diary's tables per page (the whole organisation's; a search's are few)."""


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _org(user: UserRecord) -> str:
    require(user, {Role.LEGAL_AID.value})
    if not user.org:
        raise Forbidden("this legal_aid user belongs to no organisation")
    return user.org


def _rows(
    rows: list[legal_aid.OrgDeadline], names: dict[str, str], today: date
) -> list[dict[str, Any]]:
    items = []
    for record in rows:
        item = legal_aid.deadline_item(record)
        item["days_left"] = (record.due - today).days
        item["client"] = names.get(record.case_id, "")
        item["reference"] = record.reference
        items.append(item)
    return items


def _diary(
    engine: Engine,
    org: str,
    today: date,
    within_days: int,
    clients: set[str] | None,
    pages: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """Everything the page shows, read in one thread hop (only `clients`' cases, if given).

    The whole organisation's tables are paged, `DIARY_PAGE` rows each from the cursors in
    `pages` (upcoming, lapsed): a big organisation's 90 days are thousands of rows. The
    clients found by a search are few: their rows are shown whole, read for their cases only.
    """
    until = today + timedelta(days=within_days)
    following: dict[str, str | None] = {"next_cursor": None, "lapsed_next_cursor": None}
    if clients is not None:
        upcoming = legal_aid.org_deadlines(engine, org, until=until, case_ids=clients)
        lapsed = legal_aid.lapsed_deadlines(engine, org, today=today, case_ids=clients)
    else:
        first = legal_aid.org_deadline_page(
            engine, org, until=until, cursor=pages[0], limit=DIARY_PAGE
        )
        second = legal_aid.org_deadline_page(
            engine, org, today=today, cursor=pages[1], limit=DIARY_PAGE
        )
        upcoming, lapsed = first.rows, second.rows
        following = {"next_cursor": first.next_cursor, "lapsed_next_cursor": second.next_cursor}
    names = legal_aid.client_names(engine, org, [d.case_id for d in upcoming + lapsed])
    webhooks = [
        {
            "hook": hook,
            "deliveries": legal_aid.latest_deliveries(
                engine, org, hook.id or 0, limit=DELIVERIES_SHOWN
            ),
        }
        for hook in legal_aid.org_webhooks(engine, org)
    ]
    return {
        "items": _rows(upcoming, names, today),
        "lapsed": _rows(lapsed, names, today),
        "webhooks": webhooks,
        **following,
        "paged": any(pages),
    }


async def _page(
    request: Request,
    user: UserRecord,
    within_days: int,
    new_feed_url: str | None = None,
    client: str = "",
    clients: set[str] | None = None,
    pages: tuple[str | None, str | None] = (None, None),
) -> HTMLResponse:
    org = _org(user)
    today = calendar_today()
    for field, cursor in zip(("cursor", "lapsed_cursor"), pages, strict=True):
        # Checked here, not in the thread: a bad one is a 422 naming its own parameter.
        try:
            if cursor:
                legal_aid.position(cursor)
        except InvalidCursor as exc:
            raise Unprocessable(field, str(exc)) from None
    diary = await run_in_threadpool(
        _diary, _engine(request), org, today, within_days, clients, pages
    )
    settings = request.app.state.settings
    feed_path = request.app.url_path_for("legal_aid_calendar")
    return render(
        request,
        "legal_aid.html",
        {
            "title": "Deadlines of your clients",
            **diary,
            "lapsed_days": legal_aid.LAPSED_DAYS,
            "lapsed_since": today - timedelta(days=legal_aid.LAPSED_DAYS),
            "within_days": within_days,
            "choices": sorted({*WITHIN_CHOICES, within_days}),
            "today": today,
            "feed_base": f"{settings.public_base_url}{feed_path}",
            "new_feed_url": new_feed_url,
            "client": client,
            "clients_found": None if clients is None else len(clients),
        },
        user=user,
    )


@router.get("/legal-aid", response_class=HTMLResponse)
async def legal_aid_page(
    request: Request,
    user: SessionUser,
    within_days: Annotated[int, Query(ge=0, le=MAX_WITHIN)] = 90,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    lapsed_cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The diary: upcoming deadlines within `within_days`, lapsed ones, feed and webhooks.

    Each table a page of `DIARY_PAGE` rows; `cursor` and `lapsed_cursor` are the "Next page"
    links' (a case id and a date in them, as in `/ui/cases/{id}`, no name).
    """
    if user is None:
        return to_signin(request)
    try:
        return await _page(request, user, within_days, pages=(cursor, lapsed_cursor))
    except ApiError as exc:
        return error_page(request, exc, user)


@router.post("/legal-aid", response_class=HTMLResponse)
async def find_client(request: Request, session: UiSessionDep) -> Response:
    """The diary narrowed to the clients matching the posted `client` (name, birth date, ref).

    A POST, CSRF-checked, so what is typed stays out of URLs (address bar, history, logs); the
    answer shows it again in its field. `within_days` comes along from the page's horizon.
    """
    if session is None:
        return RedirectResponse("/ui/signin?next=/ui/legal-aid", status_code=303)
    user = session.user
    try:
        form = await posted_form(request)
        check_csrf(session, form)
        _org(user)
        client = form.get("client", "").strip()
        if not client or len(client) > MAX_CLIENT_QUERY:
            raise Unprocessable(
                "client", f"type a name, a date of birth or a reference (1-{MAX_CLIENT_QUERY})"
            )
        within = form.get("within_days", "90")
        if not within.isdigit() or int(within) > MAX_WITHIN:
            raise Unprocessable("within_days", f"a number of days from 0 to {MAX_WITHIN}")
        # The search keeps to the user's org (db.search scopes legal aid to its own clients).
        found = await run_in_threadpool(search, _engine(request), user, client, CLIENTS_FOUND)
        clients = {item["id"] for item in found}
        return await _page(request, user, int(within), client=client, clients=clients)
    except ApiError as exc:
        return error_page(request, exc, user)


@router.post("/legal-aid/feed-secret", response_class=HTMLResponse)
async def rotate_feed_secret(request: Request, session: UiSessionDep) -> Response:
    """A new calendar feed secret (the old link stops working); its link shown once."""
    if session is None:
        return RedirectResponse("/ui/signin?next=/ui/legal-aid", status_code=303)
    user = session.user
    try:
        check_csrf(session, await posted_form(request))
        _org(user)
        secret = await run_in_threadpool(
            legal_aid.rotate_feed_secret, _engine(request), user.name, datetime.now(UTC)
        )
        settings = request.app.state.settings
        feed_path = request.app.url_path_for("legal_aid_calendar")
        feed_url = f"{settings.public_base_url}{feed_path}?feed={secret}"
        return await _page(request, user, 90, new_feed_url=feed_url)
    except ApiError as exc:
        return error_page(request, exc, user)
