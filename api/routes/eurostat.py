"""Official statistics in Eurostat's codes, and the anonymised case-level export (issue #20).

`/stats/eurostat/{table}` counts the read model into the tables of Regulation (EC) No 862/2007
as amended by Regulation (EU) 2020/851 (db/eurostat.py says which event each counts on);
`/stats/export` gives case-level rows with no identifier, k-anonymous. Supervisors and the
read-only `monitor` role, like `/stats` (`api.deps.STATS_ROLES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import EngineDep, SettingsDep, StatsReader
from api.errors import NotFound, Unprocessable
from api.schemas import EurostatTableInfo, EurostatTableOut, EurostatTables, ExportOut, Period
from db import eurostat
from models.rules import families

router = APIRouter(tags=["supervision"])

MAX_MONTHS = 120
"""The longest window a request may ask for (the stock is counted month by month)."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MonthParam = Annotated[str | None, Query(max_length=7, description="`YYYY-MM`, inclusive")]


@dataclass(frozen=True)
class Window:
    """A checked window of whole months: `lo` its first day, `hi` its last."""

    lo: date
    hi: date

    @property
    def period(self) -> Period:
        """The window as the responses show it."""
        return Period(from_=self.lo.isoformat()[:7], to=self.hi.isoformat()[:7])


def _month(field: str, value: str) -> date:
    match = _MONTH.match(value)
    if match is None or match[1] == "0000":
        raise Unprocessable(field, "is a month, YYYY-MM")
    return date(int(match[1]), int(match[2]), 1)


def window(date_from: str, date_to: str, *, quarterly: bool = False) -> Window:
    """Check `from`..`to` (months) and turn it into dates; 422 naming the field otherwise.

    A quarterly table needs whole quarters: a window cutting one would publish a partial
    quarter under the quarter's name.
    """
    lo, last = _month("from", date_from), _month("to", date_to)
    if lo > last:
        raise Unprocessable("from", f"{date_from} is after to={date_to}")
    span = (last.year - lo.year) * 12 + last.month - lo.month + 1
    if span > MAX_MONTHS:
        raise Unprocessable("to", f"a window is at most {MAX_MONTHS} months")
    if quarterly and lo.month % 3 != 1:
        raise Unprocessable("from", "a quarterly table starts a quarter (01, 04, 07 or 10)")
    if quarterly and last.month % 3 != 0:
        raise Unprocessable("to", "a quarterly table ends a quarter (03, 06, 09 or 12)")
    return Window(lo, eurostat.month_end(last))


def check_jurisdiction(jurisdiction: str | None) -> None:
    """422 on `jurisdiction` unless it is a known family (or absent)."""
    if jurisdiction and jurisdiction not in families():
        raise Unprocessable("jurisdiction", f"unknown jurisdiction {jurisdiction!r}")


def info(spec: eurostat.TableSpec) -> EurostatTableInfo:
    """A table's description."""
    return EurostatTableInfo(
        table=spec.id,
        dataset=spec.dataset,
        title=spec.title,
        frequency=spec.frequency,
        dimensions=list(spec.dimensions),
    )


def csv_response(text: str, filename: str) -> Response:
    """CSV text as a download named `filename`."""
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def table_csv_or_json(
    engine: Any, name: str, w: Window, jurisdiction: str | None, rounded: bool, fmt: str
) -> Response | EurostatTableOut:
    """One table's cells as the JSON model, or as CSV (one row per cell, `value` last)."""
    spec = eurostat.TABLES[name]
    cells = await run_in_threadpool(
        lambda: eurostat.table(
            engine, name, lo=w.lo, hi=w.hi, jurisdiction=jurisdiction, rounded=rounded
        )
    )
    if fmt == "csv":
        text = eurostat.to_csv([*spec.dimensions, "value"], cells)
        return csv_response(text, f"{spec.id}-{w.period.from_}-{w.period.to}.csv")
    return EurostatTableOut(
        **info(spec).model_dump(),
        period=w.period,
        jurisdiction=jurisdiction,
        rounded=rounded,
        cells=cells,
    )


@router.get("/stats/eurostat", response_model=EurostatTables, summary="The Eurostat tables")
async def list_tables(_: StatsReader) -> EurostatTables:
    """Every table `/stats/eurostat/{table}` serves, with its dataset code and dimensions."""
    return EurostatTables(items=[info(s) for s in eurostat.TABLES.values()])


@router.get(
    "/stats/eurostat/{table}",
    response_model=EurostatTableOut,
    summary="One Eurostat table, in Eurostat's codes",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`"},
        403: {"description": "Only supervisors see statistics"},
        404: {"description": "No such table"},
        422: {"description": "A bad `from`, `to`, `jurisdiction` or `round`"},
    },
)
async def get_table(
    _: StatsReader,
    engine: EngineDep,
    table: str,
    date_from: Annotated[MonthParam, Query(alias="from")] = None,
    date_to: Annotated[MonthParam, Query(alias="to")] = None,
    jurisdiction: Annotated[str | None, Query(max_length=16)] = None,
    round: Annotated[int | None, Query(description="5: every cell to the nearest 5")] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """The table's non-zero cells for the months `from`..`to` (both required).

    Each cell names its dimensions' codes (time `YYYY-MM` or `YYYY-Qn`, citizen, sex, age...)
    and `value`, the persons counted. `round=5` rounds every cell to the nearest 5, as Eurostat
    publishes; zero cells are left out (rounded: those that round to 0 too).
    """
    spec = eurostat.TABLES.get(table)
    if spec is None:
        raise NotFound(f"unknown table {table!r}; known: {', '.join(eurostat.TABLES)}")
    if date_from is None:
        raise Unprocessable("from", "is required (YYYY-MM)")
    if date_to is None:
        raise Unprocessable("to", "is required (YYYY-MM)")
    w = window(date_from, date_to, quarterly=spec.frequency == "quarterly")
    check_jurisdiction(jurisdiction)
    if round not in (None, 5):
        raise Unprocessable("round", "the only rounding is 5")
    return await table_csv_or_json(engine, table, w, jurisdiction, round == 5, format)


@router.get(
    "/stats/export",
    response_model=ExportOut,
    summary="Anonymised case-level export (k-anonymous)",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`"},
        403: {"description": "Only supervisors may export"},
        422: {"description": "`k` below the configured minimum, or a bad window"},
    },
)
async def get_export(
    _: StatsReader,
    engine: EngineDep,
    settings: SettingsDep,
    k: Annotated[int | None, Query(description="At least ASYLUMFLOW_EXPORT_K")] = None,
    date_from: Annotated[MonthParam, Query(alias="from")] = None,
    date_to: Annotated[MonthParam, Query(alias="to")] = None,
    jurisdiction: Annotated[str | None, Query(max_length=16)] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """One row per case lodged in the window, with no name, id, reference or exact date.

    Columns: jurisdiction, citizen, sex, age class at lodging, lodging month, outcome (Eurostat
    decision code, `WITHDRAWN` or `PENDING`). Every combination of them appears at least `k`
    times; rows that would break that are suppressed and counted in `suppressed` (CSV: the
    `X-Suppressed-Rows` header). `k` defaults to ASYLUMFLOW_EXPORT_K and may only be raised.
    """
    floor = settings.export_k
    if k is not None and k < floor:
        raise Unprocessable("k", f"is at least {floor} (ASYLUMFLOW_EXPORT_K)")
    chosen = k or floor
    # Open-ended on either side (no month limit: the export reads no stock month by month).
    lo = _month("from", date_from) if date_from else date.min
    hi = eurostat.month_end(_month("to", date_to)) if date_to else date.max
    if lo > hi:
        raise Unprocessable("from", f"{date_from} is after to={date_to}")
    check_jurisdiction(jurisdiction)
    rows, suppressed = await run_in_threadpool(
        lambda: eurostat.export(engine, k=chosen, lo=lo, hi=hi, jurisdiction=jurisdiction)
    )
    if format == "csv":
        response = csv_response(
            eurostat.to_csv(eurostat.QUASI_IDENTIFIERS, rows), "asylumflow-export.csv"
        )
        response.headers["X-Suppressed-Rows"] = str(suppressed)
        return response
    return ExportOut(
        k=chosen,
        period=Period(from_=date_from, to=date_to),
        columns=list(eurostat.QUASI_IDENTIFIERS),
        rows=rows,
        suppressed=suppressed,
    )
