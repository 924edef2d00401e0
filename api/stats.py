"""Caseload statistics on Eurostat's definitions, from the read model (shared/domain.md).

Flows (applications, decisions, closures, processing times) come from each case's recorded
events, so they count what happened on the day it legally happened, including dates later fixed
with `correct_event`. The replay that turns events into dated facts runs at projection time
(activities/stat_facts.py) and its facts are stored in `case_stat_facts`; `compute` counts them
in SQL, selecting by date and jurisdiction. Stocks (backlog, overdue) are the cases as they
stand now.

`figures` is the pure reference (events in, numbers out, through the same replay; the tests
check the stored facts against it); `flows`, `backlog` and `compute` do the SQL.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from activities.readmodel import CaseRecord, CaseStatFactRecord
from activities.stat_facts import (
    APPEAL,
    APPEAL_OUTCOME,
    APPLICATION,
    CLOSED,
    DECISION,
    EventRow,
    Fact,
    facts_by_case,
)
from api.supervision import TERMINAL
from models.enums import (
    DECISION_OUTCOMES,
    POSITIVE_OUTCOMES,
    AppealResult,
    Outcome,
    Procedure,
    Stage,
)

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
    days: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    """Procedure → processing days → how many decisions took that long."""

    def counter(self, kind: str) -> Counter[str] | None:
        """Where a fact of `kind` other than an application is counted (None: not a figure)."""
        return {
            DECISION: self.decisions,
            APPEAL: self.appeals,
            APPEAL_OUTCOME: self.appeal_outcomes,
            CLOSED: self.closed,
        }.get(kind)


_COUNTED_KINDS = (DECISION, APPEAL, APPEAL_OUTCOME, CLOSED)
"""The fact kinds counted by key (applications are counted by month as well)."""


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
    writer = csv.writer(out)
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
    "substantive_decisions",
    "refugee_recognition_rate",
    "total_recognition_rate",
    "substantive_decisions_eurostat",
    "refugee_recognition_rate_eurostat",
    "total_recognition_rate_eurostat",
    "processing_days",
    "backlog",
    "overdue",
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


def flows(
    bind: Engine | Connection,
    *,
    jurisdiction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    """The flow figures, counted in SQL from `case_stat_facts` (equal to `figures`).

    Three grouped counts: facts by kind and key; applications by key and day (summed into
    months here: a few hundred rows a year, and no date function differs between engines);
    decisions by procedure and processing days, a histogram the percentiles are read from.
    Each groups in the order of a covering index (readmodel.py), so no engine sorts the rows.
    """
    f = SQLModel.metadata.tables[CaseStatFactRecord.__tablename__].c
    where: list[ColumnElement[bool]] = []
    if jurisdiction:
        where.append(f.jurisdiction == jurisdiction)
    if date_from:
        where.append(f.on >= date_from)
    if date_to:
        where.append(f.on <= date_to)
    # `.all()`: one fetch of the (few thousand) grouped rows, not a driver call per row.
    with _connected(bind) as conn:
        by_key = conn.execute(
            sa.select(f.kind, f.key, sa.func.count())
            .where(*where, f.kind.in_(_COUNTED_KINDS))
            .group_by(f.kind, f.key)
        ).all()
        by_day = conn.execute(
            sa.select(f.key, f.on, sa.func.count())
            .where(*where, f.kind == APPLICATION)
            .group_by(f.key, f.on)
        ).all()
        by_days = conn.execute(
            sa.select(f.procedure, f.days, sa.func.count())
            .where(*where, f.kind == DECISION, f.procedure.is_not(None), f.days.is_not(None))
            .group_by(f.procedure, f.days)
        ).all()
    tally = _Tally()
    for kind, key, n in by_key:
        counter = tally.counter(kind)
        if counter is not None:
            counter[key] += int(n)
    months: Counter[tuple[int, int, str]] = Counter()
    for key, on, n in by_day:
        months[(on.year, on.month, key)] += int(n)
    for (year, month, key), n in months.items():
        tally.applications[_month(year, month)][key] += n
    for procedure, days, n in by_days:
        tally.days[procedure][int(days)] += int(n)
    return _figures(tally)


_OPEN_STAGES = tuple(s.value for s in Stage if s.value not in TERMINAL)


def backlog(
    bind: Engine | Connection, *, jurisdiction: str | None = None
) -> tuple[dict[str, int], int]:
    """Open cases per stage now (every open stage, zeros included) and how many are overdue.

    One statement of one count per stage and one of overdue cases: each counts a range of an
    index that holds what it checks (readmodel.py), which takes half the time of grouping
    every open case by stage.
    """
    c = SQLModel.metadata.tables[CaseRecord.__tablename__].c
    mine = [c.jurisdiction == jurisdiction] if jurisdiction else []
    counts = [
        sa.select(sa.func.count()).where(*mine, c.stage == stage).scalar_subquery()
        for stage in _OPEN_STAGES
    ]
    late = sa.select(sa.func.count()).where(*mine, c.overdue == sa.true(), c.stage.not_in(TERMINAL))
    with _connected(bind) as conn:
        *per_stage, overdue = conn.execute(sa.select(*counts, late.scalar_subquery())).one()
    return dict(zip(_OPEN_STAGES, map(int, per_stage), strict=True)), int(overdue)


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
    return {
        "from": date_from.isoformat() if date_from else None,
        "to": date_to.isoformat() if date_to else None,
        "jurisdiction": jurisdiction,
        "as_of": today.isoformat(),
        **counted,
        "backlog": stages,
        "overdue": overdue,
    }
