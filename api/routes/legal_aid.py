"""Routes for legal aid providers: their deadlines, a calendar feed, reminder webhooks.

A legal aid user acts for its organisation only: every query filters on the user's org, and a
webhook of another org is `404`, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from activities.reminders import refused_target
from api.deps import (
    MAX_ROW_ID,
    CalendarOrg,
    EngineDep,
    RowId,
    SettingsDep,
    org_of,
    require_role,
)
from api.errors import NotFound, Unprocessable
from api.schemas import LegalAidDeadlines, Page
from db import legal_aid
from db.tables import UserRecord
from db.users import Role
from models.rules import calendar_today

router = APIRouter(prefix="/legal-aid", tags=["legal-aid"])

LegalAid = Annotated[UserRecord, Depends(require_role(Role.LEGAL_AID))]


WebhookUrl = Annotated[
    AnyHttpUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])
]


class WebhookCreate(BaseModel):
    """`POST /legal-aid/webhooks`."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="Where reminders are POSTed (http or https)")


DEFAULT_WITHIN_DAYS = 30
"""The horizon of `GET /legal-aid/deadlines` when none is asked (the benchmark times it too)."""
DEFAULT_PAGE = 50
"""Items per page of `GET /legal-aid/deadlines` given a `cursor` but no `limit`."""


@router.get(
    "/deadlines",
    summary="Running and paused deadlines of the org's cases, or lapsed ones, by due date",
    response_model=LegalAidDeadlines,
    response_model_exclude_unset=True,
)
async def deadlines(
    user: LegalAid,
    engine: EngineDep,
    within_days: Annotated[int, Query(ge=0, le=3660)] = DEFAULT_WITHIN_DAYS,
    lapsed: Annotated[
        bool,
        Query(description="Instead: the `expired` or `missed` ones due in the last 30 days"),
    ] = False,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=500,
            description="Page the list: at most this many items, and `next_cursor` for the rest",
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(description="The `next_cursor` of the previous page (50 items if no `limit`)"),
    ] = None,
) -> dict[str, Any]:
    """Every running or paused clock of the org's cases due within `within_days` days.

    Appeal and reopen windows and labour-market dates included; each item is the deadline object
    with its provenance and the case id. With `lapsed=true`, the deadlines that passed without
    the act (`expired` or `missed`) with a due date in the last 30 days instead.

    Without `limit` or `cursor`, the whole list. With either, one page in the same order and
    `next_cursor` (null on the last page): on PostgreSQL a big organisation's next deadlines
    then cost the same whatever the horizon.
    """
    org = org_of(user)
    today = calendar_today()
    until = today + timedelta(days=within_days)
    if limit is not None or cursor:
        page = await run_in_threadpool(
            partial(
                legal_aid.org_deadline_page,
                engine,
                org,
                until=until,
                today=today if lapsed else None,
                cursor=cursor,
                limit=limit or DEFAULT_PAGE,
            )
        )
        items = [legal_aid.deadline_item(d) for d in page.rows]
        return {"items": items, "next_cursor": page.next_cursor}
    if lapsed:
        rows = await run_in_threadpool(lambda: legal_aid.lapsed_deadlines(engine, org, today=today))
    else:
        rows = await run_in_threadpool(legal_aid.org_deadlines, engine, org, until=until)
    return {"items": [legal_aid.deadline_item(d) for d in rows]}


@router.get(
    "/calendar.ics",
    name="legal_aid_calendar",
    summary="The org's deadlines as an iCalendar feed (bearer token or ?feed=<secret>)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 401: {}, 403: {}},
)
async def calendar(engine: EngineDep, settings: SettingsDep, org: CalendarOrg) -> Response:
    """One all-day event per running or paused deadline, with alarms before each.

    Calendar apps cannot send a bearer token, so the user's feed secret in `?feed=` works too.
    """
    rows = await run_in_threadpool(legal_aid.org_deadlines, engine, org)
    body = legal_aid.calendar_ics(
        org, rows, alarm_days=settings.reminder_offsets_days, now=datetime.now(UTC)
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        # The feed names case ids and dates: no shared cache may keep it.
        headers={"Cache-Control": "private, no-store"},
    )


@router.post("/feed-secret", summary="A new calendar feed secret; the old one stops working")
async def feed_secret(
    request: Request, user: LegalAid, engine: EngineDep, settings: SettingsDep
) -> dict[str, str]:
    """Create (or replace) the user's own feed secret and return it with the feed URL, once.

    Each member of an org has its own: revoking the user ends its feed, and a new secret
    replaces only the caller's old one.

    The URL is built on `ASYLUMFLOW_PUBLIC_URL` (or the configured host), never on the
    request's `Host` header: a caller could otherwise have a link to its own server handed out.
    """
    org_of(user)
    secret = await run_in_threadpool(
        legal_aid.rotate_feed_secret, engine, user.name, datetime.now(UTC)
    )
    path = request.app.url_path_for("legal_aid_calendar")
    return {"secret": secret, "feed_url": f"{settings.public_base_url}{path}?feed={secret}"}


@router.post("/webhooks", status_code=201, summary="Register a reminder webhook")
async def add_webhook(
    body: WebhookCreate, user: LegalAid, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """Reminders are POSTed to `url`, signed with the returned secret (shown only here).

    The URL's host must resolve to public addresses only (`refused_target`): 422 otherwise.
    """
    refused = await run_in_threadpool(
        partial(refused_target, private_hosts=settings.webhook_private_hosts), str(body.url)
    )
    if refused is not None:
        raise Unprocessable("url", refused)
    record = await run_in_threadpool(
        legal_aid.create_webhook, engine, org_of(user), str(body.url), datetime.now(UTC)
    )
    return {"id": record.id, "secret": record.secret, "url": record.url, "active": True}


@router.get("/webhooks", summary="The org's webhooks (secrets are never shown again)")
async def list_webhooks(user: LegalAid, engine: EngineDep) -> dict[str, Any]:
    """Id, URL, whether active, when registered."""
    rows = await run_in_threadpool(legal_aid.org_webhooks, engine, org_of(user))
    return {"items": [r.model_dump(mode="json", exclude={"secret", "org"}) for r in rows]}


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Stop sending to a webhook")
async def remove_webhook(webhook_id: RowId, user: LegalAid, engine: EngineDep) -> Response:
    """Deactivate the webhook; its delivery log stays readable."""
    if not await run_in_threadpool(legal_aid.deactivate_webhook, engine, org_of(user), webhook_id):
        raise NotFound("no such webhook")
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", summary="Delivery attempts of a webhook")
async def webhook_deliveries(
    webhook_id: RowId,
    user: LegalAid,
    engine: EngineDep,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Page:
    """Every attempt (status code or error, attempt number) in order; `next_cursor` continues."""
    org = org_of(user)
    if await run_in_threadpool(legal_aid.org_webhook, engine, org, webhook_id) is None:
        raise NotFound("no such webhook")
    rows = await run_in_threadpool(
        legal_aid.deliveries, engine, org, webhook_id, after=cursor, limit=limit + 1
    )
    items = [r.model_dump(mode="json") for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=str(rows[limit - 1].id) if more else None)
