"""Caseload statistics on Eurostat's definitions, from the read model (shared/domain.md).

Flows (applications, decisions, closures, processing times) come from each case's recorded
events, so they count what happened on the day it legally happened, including dates later fixed
with `correct_event`. The replay that turns events into dated facts runs at projection time
(db/stat_facts.py) and its facts are stored in `case_stat_facts`, summed by day and
month into a rollup kept in the same transaction; `compute` adds up the rollup's rows for the
window and jurisdiction in SQL. Stocks (backlog, overdue) are the cases as they stand now.

`figures` is the pure reference (events in, numbers out, through the same replay; the tests
check the stored facts against it); `flows`, `backlog` and `compute` do the SQL.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnClause, ColumnElement
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from core import csv_safety
from db import tallies
from db.reception import reception_counts
from db.stat_facts import (
    ALL_TIME,
    APPEAL,
    APPEAL_OUTCOME,
    APPLICATION,
    CLOSED,
    DAY,
    DECISION,
    EVER,
    MONTH,
    RESPONSIBILITY,
    EventRow,
    Fact,
    facts_by_case,
)
from db.supervision import TERMINAL
from db.tables import CaseEventRecord, CaseRecord, CaseStatCountRecord, CaseStatDaysRecord
from models.enums import (
    DECISION_OUTCOMES,
    POSITIVE_OUTCOMES,
    AppealResult,
    Outcome,
    Procedure,
    Stage,
)
from models.stages import OPEN_STAGES

SUBSTANTIVE = tuple(o for o in DECISION_OUTCOMES if o is not Outcome.INADMISSIBLE)
"""Decisions on the merits: refugee, subsidiary, humanitarian, rejected, manifestly unfounded."""


# ---------------------------------------------------------------------------------------------
# Pure part


def nearest_rank(values: list[int], percent: int) -> int:
    """The nearest-rank percentile: the smallest value with at least `percent`% at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))  # ceil without floats
    return ordered[rank - 1]


def _nearest_rank_counted(histogram: Mapping[int, int], percent: int) -> int:
    """`nearest_rank` of the values a histogram (value → how many) stands for."""
    rank = max(1, -(-percent * sum(histogram.values()) // 100))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise ValueError("empty histogram")


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class _Tally:
    applications: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    decisions: Counter[str] = field(default_factory=Counter)
    appeals: Counter[str] = field(default_factory=Counter)
    appeal_outcomes: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    responsibility: Counter[str] = field(default_factory=Counter)
    days: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    """Procedure → processing days → how many decisions took that long."""

    def counter(self, kind: str) -> Counter[str] | None:
        """Where a fact of `kind` other than an application is counted (None: not a figure)."""
        return {
            DECISION: self.decisions,
            APPEAL: self.appeals,
            APPEAL_OUTCOME: self.appeal_outcomes,
            CLOSED: self.closed,
            RESPONSIBILITY: self.responsibility,
        }.get(kind)


def _month(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _add(tally: _Tally, facts: Iterable[Fact], lo: date, hi: date) -> None:
    """Count the facts dated inside the window."""
    for fact in facts:
        if not lo <= fact.on <= hi:
            continue
        if fact.kind == APPLICATION:
            tally.applications[_month(fact.on.year, fact.on.month)][fact.key] += 1
            continue
        if fact.kind == DECISION and fact.days is not None and fact.procedure is not None:
            tally.days[fact.procedure][fact.days] += 1
        counter = tally.counter(fact.kind)
        if counter is not None:
            counter[fact.key] += 1


def _figures(tally: _Tally) -> dict[str, Any]:
    """The flow figures of shared/api.md `/stats` from a tally."""
    decisions = {o.value: tally.decisions[o.value] for o in DECISION_OUTCOMES}
    substantive = sum(decisions[o.value] for o in SUBSTANTIVE)
    with_inadmissible = substantive + decisions[Outcome.INADMISSIBLE.value]
    refugee = decisions[Outcome.REFUGEE_STATUS.value]
    positive = sum(decisions[o.value] for o in POSITIVE_OUTCOMES)
    order = {p.value: i for i, p in enumerate(Procedure)}
    return {
        "applications": {
            month: {"first_time": c["first_time"], "subsequent": c["subsequent"]}
            for month, c in sorted(tally.applications.items())
        },
        "decisions": decisions,
        "appeal_decisions": {r.value: tally.appeals[r.value] for r in AppealResult},
        "appeal_outcomes": {o.value: tally.appeal_outcomes[o.value] for o in DECISION_OUTCOMES},
        "otherwise_closed": tally.closed["discontinued"] + tally.closed["withdrawn"],
        "otherwise_closed_by_reason": {
            "discontinued": tally.closed["discontinued"],
            "withdrawn": tally.closed["withdrawn"],
        },
        # Outgoing responsibility (Dublin/AMMR) requests and transfers, on the day of the act.
        "responsibility": {
            "take_charge_requests": tally.responsibility["take_charge_request"],
            "take_back_requests": tally.responsibility["take_back_request"],
            "transfers": tally.responsibility["transfer"],
        },
        # UNHCR: inadmissibility decisions are otherwise closed, outside the denominator.
        "substantive_decisions": substantive,
        "refugee_recognition_rate": _rate(refugee, substantive),
        "total_recognition_rate": _rate(positive, substantive),
        # Eurostat: inadmissibility decisions count as rejections.
        "substantive_decisions_eurostat": with_inadmissible,
        "refugee_recognition_rate_eurostat": _rate(refugee, with_inadmissible),
        "total_recognition_rate_eurostat": _rate(positive, with_inadmissible),
        "processing_days": {
            proc: {
                "median": _nearest_rank_counted(days, 50),
                "p90": _nearest_rank_counted(days, 90),
                "count": sum(days.values()),
            }
            for proc, days in sorted(
                tally.days.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])
            )
            if days
        },
    }


def figures(
    events: Iterable[EventRow], *, date_from: date | None = None, date_to: date | None = None
) -> dict[str, Any]:
    """The flow figures of shared/api.md `/stats` from case events (any order)."""
    tally = _Tally()
    lo, hi = date_from or date.min, date_to or date.max
    for _, facts in facts_by_case(events):
        _add(tally, facts, lo, hi)
    return _figures(tally)


def csv_rows(stats: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """One `(metric, key, value)` per figure; nested keys are joined with `/`."""

    def walk(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
        if isinstance(value, dict):
            for k, v in value.items():
                yield from walk(f"{prefix}/{k}" if prefix else str(k), v)
        else:
            yield prefix, "" if value is None else str(value)

    for metric in FIGURES:
        for key, value in walk("", stats[metric]):
            yield metric, key, value


def to_csv(stats: dict[str, Any]) -> str:
    """The figures as CSV with a `metric,key,value` header."""
    out = io.StringIO()
    writer = csv_safety.writer(out)
    writer.writerow(("metric", "key", "value"))
    writer.writerows(csv_rows(stats))
    return out.getvalue()


FIGURES = (
    "applications",
    "decisions",
    "appeal_decisions",
    "appeal_outcomes",
    "otherwise_closed",
    "otherwise_closed_by_reason",
    "responsibility",
    "substantive_decisions",
    "refugee_recognition_rate",
    "total_recognition_rate",
    "substantive_decisions_eurostat",
    "refugee_recognition_rate_eurostat",
    "total_recognition_rate_eurostat",
    "processing_days",
    "backlog",
    "overdue",
    "reception",
)
"""The figures, in the order CSV rows list them (the query parameters are not figures)."""


# ---------------------------------------------------------------------------------------------
# SQL part


@contextmanager
def _connected(bind: Engine | Connection) -> Iterator[Connection]:
    """`bind` itself if it is a connection, else a connection of the engine for the block."""
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.connect() as conn:
        yield conn


def _next_month(day: date) -> date:
    """The first day of the month after `day`'s (`date.max` after the last month there is)."""
    if day.year == date.max.year and day.month == 12:
        return date.max
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass(frozen=True)
class Window:
    """A `from`..`to` window cut the way the rollup is stored: whole months, and edge days."""

    months: tuple[date, date] | None
    """The first days of the first and the last whole month inside the window (None: none)."""
    days: tuple[tuple[date, date], ...]
    """The day ranges (inclusive) inside the window and outside its whole months."""

    @classmethod
    def of(cls, date_from: date | None, date_to: date | None) -> Window:
        """Cut `date_from`..`date_to` (inclusive; None: open) at month boundaries."""
        lo, hi = date_from or date.min, date_to or date.max
        if lo > hi:
            return cls(None, ())
        ends_month = hi == date.max or (hi + timedelta(days=1)).day == 1
        first = lo if lo.day == 1 else _next_month(lo)
        tail = None if ends_month else hi.replace(day=1)  # the partial month `hi` is in
        if tail is None:
            last: date | None = hi.replace(day=1)
        elif tail > date.min:
            last = (tail - timedelta(days=1)).replace(day=1)
        else:
            last = None
        if last is None or first > last:
            return cls(None, ((lo, hi),))
        head = ((lo, first - timedelta(days=1)),) if lo < first else ()
        return cls((first, last), head + (((tail, hi),) if tail else ()))


# The columns one table of `flows`' union has and the other has not; the first says which.
_COUNTS: ColumnClause[str] = sa.literal_column("'counts'", sa.String)
_HISTOGRAM: ColumnClause[str] = sa.literal_column("'days'", sa.String)
_NO_DAYS = sa.cast(sa.null(), sa.Integer)
_NO_KIND = sa.cast(sa.null(), sa.String)
_NO_DATE = sa.cast(sa.null(), sa.Date)


def flows(
    bind: Engine | Connection,
    *,
    jurisdiction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    """The flow figures, counted in SQL from the facts' rollup (equal to `figures`).

    One statement reads `case_stat_counts` (facts by kind, key and day or month) and
    `case_stat_days` (decisions by procedure and processing days: the histogram the
    percentiles are read from), both kept by `refresh_facts` (db/stat_facts.py). The
    window's whole months come from the month rows and its edges from the day rows; without a
    window the histogram is the all-time rows'. That is about a thousand rows per figure where
    the facts are 180,000 at 100,000 cases. Applications are summed into months here (no date
    function is the same in every engine).
    """
    tables = SQLModel.metadata.tables
    counts = tables[CaseStatCountRecord.__tablename__].c
    days = tables[CaseStatDaysRecord.__tablename__].c
    window = Window.of(date_from, date_to)

    def spans(c: Any, months: str) -> list[ColumnElement[bool]]:
        """Each (span, dates) the window reads, as one condition per contiguous index range."""
        mine = [c.jurisdiction == jurisdiction] if jurisdiction else []
        ranges = [(months, window.months)] if window.months else []
        ranges += [(DAY, edge) for edge in window.days]
        return [sa.and_(*mine, c.span == span, c.on.between(*on)) for span, on in ranges]

    if date_from is None and date_to is None:
        mine = [days.jurisdiction == jurisdiction] if jurisdiction else []
        histogram = [sa.and_(*mine, days.span == ALL_TIME, days.on == EVER)]
    else:
        histogram = spans(days, MONTH)
    # Only applications are broken down by date (into months, below): the other kinds are
    # summed over the window in SQL, a few rows instead of one per key and month.
    dated = sa.case((counts.kind == APPLICATION, counts.on), else_=_NO_DATE)
    # One grouped select per index range, all in one statement (a round trip each would cost
    # more than reading these rows); `.all()` fetches them at once, not a driver call per row.
    parts = [
        sa.select(_COUNTS, counts.kind, counts.key, dated, _NO_DAYS, sa.func.sum(counts.n))
        .where(where)
        .group_by(counts.kind, counts.key, dated)
        for where in spans(counts, MONTH)
    ] + [
        sa.select(_HISTOGRAM, _NO_KIND, days.procedure, _NO_DATE, days.days, sa.func.sum(days.n))
        .where(where)
        .group_by(days.procedure, days.days)
        for where in histogram
    ]
    tally = _Tally()
    if not parts:
        return _figures(tally)
    with _connected(bind) as conn:
        rows = conn.execute(sa.union_all(*parts)).all()
    months: Counter[tuple[int, int, str]] = Counter()
    for table, kind, key, on, spent, n in rows:
        n = int(n)
        if not n:
            continue  # a row whose facts were all rewritten away
        if table == "days":
            tally.days[key][int(spent)] += n
        elif kind == APPLICATION:
            months[(on.year, on.month, key)] += n
        elif (counter := tally.counter(kind)) is not None:
            counter[key] += n
    for (year, month, key), n in months.items():
        tally.applications[_month(year, month)][key] += n
    return _figures(tally)


_OPEN_STAGES = tuple(s.value for s in Stage if s in OPEN_STAGES)


def backlog(
    bind: Engine | Connection, *, jurisdiction: str | None = None
) -> tuple[dict[str, int], int]:
    """Open cases per stage now (every open stage, zeros included) and how many are overdue.

    Summed from `case_tallies` (`db.tallies`), which triggers keep with every write of a case
    row: a few hundred rows whatever the caseload, where counting the cases visited every open
    case's index entry (889,000 at 1,000,000 cases, 150 ms of CPU per request).
    """
    with _connected(bind) as conn:
        counted = tallies.by_stage_and_overdue(conn, jurisdiction=jurisdiction)
    stages = dict.fromkeys(_OPEN_STAGES, 0)
    overdue = 0
    for (stage, late), n in counted.items():
        if stage in stages:
            stages[stage] += n
        if late and stage not in TERMINAL:
            overdue += n
    return stages, overdue


def compute(
    engine: Engine,
    *,
    jurisdiction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    today: date,
) -> dict[str, Any]:
    """Every `/stats` figure: flows inside the window, stocks as of now."""
    # One connection for the four queries: a pool checkout (with PostgreSQL's pre-ping, a round
    # trip) is a visible part of a request this size.
    with engine.connect() as conn:
        counted = flows(conn, jurisdiction=jurisdiction, date_from=date_from, date_to=date_to)
        stages, overdue = backlog(conn, jurisdiction=jurisdiction)
        referred = referrals(conn, jurisdiction=jurisdiction, date_from=date_from, date_to=date_to)
    return {
        "from": date_from.isoformat() if date_from else None,
        "to": date_to.isoformat() if date_to else None,
        "jurisdiction": jurisdiction,
        "as_of": today.isoformat(),
        **counted,
        "backlog": stages,
        "overdue": overdue,
        # Issue #19: a stock as of now, like the backlog (applicants receiving material
        # reception conditions, places over capacity, detention and its alternatives).
        "reception": reception_counts(engine, jurisdiction),
        **referred,
    }


def referrals(
    bind: Engine | Connection,
    *,
    jurisdiction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, dict[str, int]]:
    """Referrals to services by service, and their outcomes by outcome, dated in the window.

    Issue #19. Read from the events (`refer`, `record_referral_outcome`; never a retracted
    one) by the (action, on) index: referrals are few beside the other flows, so they have no
    rollup of their own. `to: none` (declining to apply) is no referral to a service.
    """
    events = SQLModel.metadata.tables[CaseEventRecord.__tablename__]
    cases = SQLModel.metadata.tables[CaseRecord.__tablename__]
    e, c = events.c, cases.c
    where = [
        e.action.in_(("refer", "record_referral_outcome")),
        e.retracted == sa.false(),
        e.on.between(date_from or date.min, date_to or date.max),
    ]
    query = sa.select(e.action, e.data).where(*where)
    if jurisdiction:
        query = query.join(cases, c.id == e.case_id).where(c.jurisdiction == jurisdiction)
    by_service: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    with _connected(bind) as conn:
        for action, data in conn.execute(query):
            if action == "refer" and data.get("to") not in (None, "none"):
                by_service[str(data["to"])] += 1
            elif action == "record_referral_outcome" and data.get("outcome"):
                by_outcome[str(data["outcome"])] += 1
    return {
        "referrals": dict(sorted(by_service.items())),
        "referral_outcomes": dict(sorted(by_outcome.items())),
    }
