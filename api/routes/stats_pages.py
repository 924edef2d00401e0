"""The supervisor's statistics page at `/ui/stats`: the `/stats` figures as server-rendered SVG.

No script and no chart library: each chart is a list of labelled bars whose lengths are worked
out here, drawn by the template as inline SVG (presentation attributes only, which the pages'
Content-Security-Policy allows), each with its figures as text for screen readers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from api.deps import SessionUser
from api.errors import ApiError, Unprocessable
from api.routes.ui import error_page, render, require, to_signin
from db import stats
from db.users import Role
from models.rules import calendar_today, families

router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False)

BAR_WIDTH = 360
"""Length in SVG units of the longest bar of a chart."""


def bars(pairs: list[tuple[str, float]], unit: str = "") -> list[dict[str, Any]]:
    """Labelled bars scaled to the chart's largest value."""
    top = max((v for _, v in pairs), default=0) or 1
    return [
        {
            "label": label,
            "value": value,
            "text": f"{value:g}{unit}",
            "width": round(BAR_WIDTH * value / top, 1),
        }
        for label, value in pairs
    ]


def charts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's charts from the `/stats` figures."""
    applications = [
        (month, float(n["first_time"] + n["subsequent"]))
        for month, n in sorted(figures["applications"].items())
    ]
    rates = [
        ("refugee recognition rate", figures["refugee_recognition_rate"]),
        ("total recognition rate", figures["total_recognition_rate"]),
        ("refugee rate (Eurostat)", figures["refugee_recognition_rate_eurostat"]),
        ("total rate (Eurostat)", figures["total_recognition_rate_eurostat"]),
    ]
    processing = [
        (f"{procedure} {which}", float(days[which]))
        for procedure, days in sorted(figures["processing_days"].items())
        for which in ("median", "p90")
        if days.get(which) is not None
    ]
    return [
        {
            "id": "applications",
            "title": "Applications per month (first-time and subsequent)",
            "bars": bars(applications),
        },
        {
            "id": "decisions",
            "title": "First-instance decisions by outcome",
            "bars": bars(
                [(k.replace("_", " "), float(v)) for k, v in figures["decisions"].items()]
            ),
        },
        {
            "id": "rates",
            "title": "Recognition rates (per cent)",
            "bars": bars([(k, round(100 * v, 1)) for k, v in rates if v is not None], " %"),
        },
        {
            "id": "processing",
            "title": "Processing time from lodging to decision (days: median and 90th percentile)",
            "bars": bars(processing, " days"),
        },
        {
            "id": "backlog",
            "title": "Open cases by stage, now",
            # Stages holding no case are left out: the chart shows where the cases are.
            "bars": bars(
                [
                    (k.replace("_", " "), float(v))
                    for k, v in sorted(figures["backlog"].items())
                    if v
                ]
            ),
        },
    ]


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(
    request: Request,
    user: SessionUser,
    jurisdiction: Annotated[str, Query(max_length=16)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """The statistics of the caseload (optionally of one jurisdiction, in a window) as charts."""
    if user is None:
        return to_signin(request)
    try:
        require(user, {Role.SUPERVISOR.value})
        if jurisdiction and jurisdiction not in families():
            raise Unprocessable("jurisdiction", "unknown jurisdiction")
        try:
            start = date.fromisoformat(date_from) if date_from else None
            end = date.fromisoformat(date_to) if date_to else None
        except ValueError:
            raise Unprocessable("from", "dates are YYYY-MM-DD") from None
        if start and end and start > end:
            raise Unprocessable("from", "is after to")
        engine: Engine = request.app.state.engine
        figures = await run_in_threadpool(
            lambda: stats.compute(
                engine,
                jurisdiction=jurisdiction or None,
                date_from=start,
                date_to=end,
                today=calendar_today(),
            )
        )
    except ApiError as exc:
        return error_page(request, exc, user)
    context = {
        "title": "Statistics",
        "figures": figures,
        "charts": charts(figures),
        "jurisdictions": families(),
        "form": {"jurisdiction": jurisdiction, "from": date_from, "to": date_to},
    }
    return render(request, "stats.html", context, user=user)
