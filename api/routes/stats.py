"""Caseload statistics for supervisors and monitors (Eurostat definitions; api.md `/stats`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import EngineDep, StatsReader
from api.errors import Unprocessable
from db import stats

router = APIRouter(tags=["supervision"])


@router.get(
    "/stats",
    summary="Applications, decisions, recognition rates, processing times, backlog",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`"},
        403: {"description": "Only supervisors and monitors see statistics"},
        422: {"description": "`from` is after `to`, or a date is malformed"},
    },
)
async def get_stats(
    _: StatsReader,
    engine: EngineDep,
    date_from: Annotated[
        date | None, Query(alias="from", description="First day counted (inclusive)")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="Last day counted (inclusive)")
    ] = None,
    jurisdiction: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Flows counted on the date of the counted event inside `from`..`to`; stocks as of now.

    Applications by month of lodging (first-time / subsequent); first-instance decisions by
    outcome; appeal decisions by result; discontinued and withdrawn applications as *otherwise
    closed*; recognition rates with inadmissibility decisions outside the denominator (UNHCR)
    and as rejections (`_eurostat`), as fractions rounded to 4 places (null without decisions);
    processing days from lodging to decision per procedure (nearest-rank median and p90);
    open cases by stage and overdue cases now.
    """
    if date_from and date_to and date_from > date_to:
        raise Unprocessable("from", f"{date_from.isoformat()} is after to={date_to.isoformat()}")
    figures = await run_in_threadpool(
        stats.compute,
        engine,
        jurisdiction=jurisdiction,
        date_from=date_from,
        date_to=date_to,
        today=datetime.now(UTC).date(),
    )
    if format == "csv":
        return Response(
            stats.to_csv(figures),
            media_type="text/csv",
            headers={"Content-Disposition": 'inline; filename="asylumflow-stats.csv"'},
        )
    return figures
