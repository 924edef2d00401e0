"""The supervisor's statistics page at `/ui/stats`: the figures as SVG, the Eurostat tables.

The `/stats` figures as server-rendered charts, and the Eurostat tables
(`/stats/eurostat/{table}`) as HTML tables with a CSV download each. No script and no chart
library: each chart is a list of labelled bars whose lengths are worked out here, drawn by the
template as inline SVG (presentation attributes only, which the pages' Content-Security-Policy
allows), each with its figures as text for screen readers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from api.deps import STATS_ROLES, SessionUser
from api.errors import ApiError, NotFound, Unprocessable
from api.routes.eurostat import (
    Window,
    check_jurisdiction,
    table_csv_or_json,
    window,
)
from api.routes.ui import error_page, render, require, to_signin
from db import eurostat, stats
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
        # Issue #19: referrals to services in the period, by service.
        {
            "id": "referrals",
            "title": "Referrals to services, by service",
            "bars": bars(
                [
                    (k.replace("_", " "), float(v))
                    for k, v in sorted(figures.get("referrals", {}).items())
                ]
            ),
        },
    ]


def quarters_around(start: date | None, end: date | None, today: date) -> Window:
    """The Eurostat sections' window: whole quarters covering `start`..`end` (both months).

    Without dates: the current quarter and the three before it. Quarterly tables need whole
    quarters (`eurostat.window`), and one window for every section keeps them comparable.
    """
    last = end or today
    last_quarter = date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    if start is None:
        back = last_quarter.year * 12 + last_quarter.month - 1 - 9  # three quarters earlier
        first = date(back // 12, back % 12 + 1, 1) if back >= 12 else date(1, 1, 1)
    else:
        first = date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    to = f"{last_quarter.year:04d}-{last_quarter.month + 2:02d}"
    return window(first.isoformat()[:7], to, quarterly=True)


def official_tables(
    figures: dict[str, list[dict[str, Any]]], w: Window, jurisdiction: str
) -> list[dict[str, Any]]:
    """One section per Eurostat table: its title, columns, rows and CSV link on the session."""
    query = urlencode({"from": w.period.from_, "to": w.period.to, "jurisdiction": jurisdiction})
    return [
        {
            "id": spec.id,
            "title": spec.title,
            "dataset": spec.dataset,
            "frequency": spec.frequency,
            "columns": [*spec.dimensions, "value"],
            "rows": [[cell[c] for c in (*spec.dimensions, "value")] for cell in figures[spec.id]],
            "csv": f"/ui/stats/eurostat/{spec.id}.csv?{query}",
        }
        for spec in eurostat.TABLES.values()
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
        # The figures of `GET /stats`: whoever may read those (a monitor too) sees them drawn.
        require(user, {r.value for r in STATS_ROLES})
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
        quarters = quarters_around(start, end, calendar_today())
        official = await run_in_threadpool(
            lambda: eurostat.every_table(
                engine, lo=quarters.lo, hi=quarters.hi, jurisdiction=jurisdiction or None
            )
        )
    except ApiError as exc:
        return error_page(request, exc, user)
    context = {
        "title": "Statistics",
        "figures": figures,
        "charts": charts(figures),
        "quarters": quarters.period,
        "official": official_tables(official, quarters, jurisdiction),
        "jurisdictions": families(),
        "form": {"jurisdiction": jurisdiction, "from": date_from, "to": date_to},
    }
    return render(request, "stats.html", context, user=user)


@router.get("/stats/eurostat/{table}.csv")
async def eurostat_csv(
    request: Request,
    table: str,
    user: SessionUser,
    date_from: Annotated[str, Query(alias="from", max_length=7)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=7)] = "",
    jurisdiction: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """A Eurostat table as CSV on the page's session (`/stats/eurostat/{table}?format=csv`).

    The session cookie is scoped to `/ui`, so the page cannot link to the bearer-token route.
    """
    if user is None:
        return to_signin(request)
    try:
        require(user, {r.value for r in STATS_ROLES})
        spec = eurostat.TABLES.get(table)
        if spec is None:
            raise NotFound(f"unknown table {table!r}")
        w = window(date_from, date_to, quarterly=spec.frequency == "quarterly")
        check_jurisdiction(jurisdiction)
        engine: Engine = request.app.state.engine
        response = await table_csv_or_json(engine, table, w, jurisdiction or None, False, "csv")
    except ApiError as exc:
        return error_page(request, exc, user)
    assert isinstance(response, Response)  # "csv" always answers CSV
    return response
