"""The legal-aid diary at `/ui/legal-aid`: clients' deadlines by name, feed, webhooks.

Upcoming and lapsed deadlines with the client's name and the case's reference; the calendar
feed to subscribe to; the organisation's webhooks with their delivery log.
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
from api.errors import ApiError, Forbidden
from api.routes.ui import check_csrf, error_page, posted_form, render, require, to_signin
from db import legal_aid
from db.tables import CaseRecord, DeadlineRecord, UserRecord
from db.users import Role
from models.rules import calendar_today

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)

WITHIN_CHOICES = (7, 30, 90, 365)
"""Horizons, in days, the legal-aid view offers."""

DELIVERIES_SHOWN = 10
"""Delivery attempts shown per webhook (the newest; the API pages through all of them)."""


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _org(user: UserRecord) -> str:
    require(user, {Role.LEGAL_AID.value})
    if not user.org:
        raise Forbidden("this legal_aid user belongs to no organisation")
    return user.org


def _rows(
    rows: list[tuple[DeadlineRecord, CaseRecord]], names: dict[str, str], today: date
) -> list[dict[str, Any]]:
    items = []
    for record, case in rows:
        item = legal_aid.deadline_item(record)
        item["days_left"] = (record.due - today).days
        item["client"] = names.get(record.case_id, "")
        item["reference"] = case.reference
        items.append(item)
    return items


def _diary(engine: Engine, org: str, today: date, within_days: int) -> dict[str, Any]:
    """Everything the page shows, read in one thread hop."""
    upcoming = legal_aid.org_deadlines(engine, org, until=today + timedelta(days=within_days))
    lapsed = legal_aid.lapsed_deadlines(engine, org, today=today)
    names = legal_aid.client_names(engine, org, [d.case_id for d, _ in upcoming + lapsed])
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
    }


async def _page(
    request: Request, user: UserRecord, within_days: int, new_feed_url: str | None = None
) -> HTMLResponse:
    org = _org(user)
    today = calendar_today()
    diary = await run_in_threadpool(_diary, _engine(request), org, today, within_days)
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
        },
        user=user,
    )


@router.get("/legal-aid", response_class=HTMLResponse)
async def legal_aid_page(
    request: Request,
    user: SessionUser,
    within_days: Annotated[int, Query(ge=0, le=3660)] = 90,
) -> Response:
    """The diary: upcoming deadlines within `within_days`, lapsed ones, feed and webhooks."""
    if user is None:
        return to_signin(request)
    try:
        return await _page(request, user, within_days)
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
