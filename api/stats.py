"""Caseload statistics on Eurostat's definitions, from the read model (shared/domain.md).

Flows (applications, decisions, closures, processing times) are replayed from each case's
recorded events, so they count what happened on the day it legally happened, including dates
later fixed with `correct_event`. Stocks (backlog, overdue) are the cases as they stand now.

`figures` is pure (events in, numbers out); `load_events` and `compute` do the SQL.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from activities.readmodel import CaseEventRecord, CaseRecord
from api.supervision import TERMINAL
from models.enums import (
    DECISION_OUTCOMES,
    POSITIVE_OUTCOMES,
    AppealResult,
    Outcome,
    Procedure,
    Stage,
)

COUNTED = (
    "lodge",
    "decide",
    "decide_admissibility",
    "decide_appeal",
    "discontinue",
    "review_abandonment",
    "withdraw",
)
"""Actions whose date a figure is counted on (the `from`/`to` window applies to these)."""

CONTEXT = ("make_application", "record_risk_assessment", "assign_procedure", "correct_event")
"""Actions the replay needs besides: whether an application was made, the procedure, fixes."""

SUBSTANTIVE = tuple(o for o in DECISION_OUTCOMES if o is not Outcome.INADMISSIBLE)
"""Decisions on the merits: refugee, subsidiary, humanitarian, rejected, manifestly unfounded."""


@dataclass(frozen=True, slots=True)
class EventRow:
    """What the statistics read of one `case_events` row: its columns and a few data fields."""

    case_id: str
    seq: int
    action: str
    event: str | None
    on: date
    outcome: str | None = None
    """`decide`: the outcome; `decide_appeal`: the substituted outcome."""
    subsequent: bool | None = None
    """`lodge`: a subsequent application."""
    admissible: bool | None = None
    """`decide_admissibility`: false is an inadmissibility decision."""
    procedure: str | None = None
    """`assign_procedure`: the procedure from then on."""
    result: str | None = None
    """`decide_appeal`: dismissed, quashed_remanded or substituted."""
    corrects: str | None = None
    """`correct_event`: the legal event whose date it fixes."""
    corrected_to: date | None = None
    """`correct_event`: the right date."""


# ---------------------------------------------------------------------------------------------
# Pure part


def nearest_rank(values: list[int], percent: int) -> int:
    """The nearest-rank percentile: the smallest value with at least `percent`% at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))  # ceil without floats
    return ordered[rank - 1]


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class _Tally:
    applications: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    decisions: Counter[str] = field(default_factory=Counter)
    appeals: Counter[str] = field(default_factory=Counter)
    appeal_outcomes: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    days: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


_DECISION_VALUES = frozenset(o.value for o in DECISION_OUTCOMES)
_WITHDRAWN = Outcome.IMPLICITLY_WITHDRAWN.value


def _first_instance(row: EventRow) -> bool:
    """A first-instance decision: `decide`, or an admissibility decision finding inadmissible."""
    return row.action == "decide" or (
        row.action == "decide_admissibility" and row.admissible is False
    )


def _corrections(rows: list[EventRow]) -> dict[tuple[int, str], date]:
    """(seq, legal event) → corrected date: `correct_event` fixes the last one before it."""
    latest: dict[str, int] = {}
    fixed: dict[tuple[int, str], date] = {}
    for row in rows:
        if row.corrects is not None and row.corrected_to is not None:
            if row.corrects in latest:
                fixed[(latest[row.corrects], row.corrects)] = row.corrected_to
            continue
        if row.event:
            latest[row.event] = row.seq
        if row.action == "decide_admissibility" and row.admissible is False:
            # The workflow records an inadmissibility decision as a `decided` occurrence too.
            latest["decided"] = row.seq
    return fixed


def _replay(
    rows: list[EventRow], tally: _Tally, date_from: date | None, date_to: date | None
) -> None:
    """Add one case's flows inside the window to the tally (mirrors models/lifecycle.py)."""
    fixed = _corrections(rows) if any(r.action == "correct_event" for r in rows) else {}
    lo, hi = date_from or date.min, date_to or date.max
    made, lodgings = False, 0
    lodged_on: date | None = None
    procedure: str = Procedure.REGULAR.value
    outcome: str | None = None
    for row in rows:
        action = row.action
        if row.event == "made":
            made = True
        if action == "lodge":
            day = fixed.get((row.seq, "lodged"), row.on)
            # A second lodging in the same case (back from return at risk) is subsequent too.
            kind = "subsequent" if row.subsequent or lodgings else "first_time"
            lodgings, lodged_on = lodgings + 1, day
            if lo <= day <= hi:
                tally.applications[f"{day.year:04d}-{day.month:02d}"][kind] += 1
        elif action == "assign_procedure":
            procedure = row.procedure or procedure
        elif _first_instance(row):
            outcome = row.outcome if action == "decide" else Outcome.INADMISSIBLE.value
            day = fixed.get((row.seq, "decided"), row.on)
            if lo <= day <= hi and outcome:
                tally.decisions[outcome] += 1
                if lodged_on is not None:
                    tally.days[procedure].append((day - lodged_on).days)
        elif action == "decide_appeal":
            final: str | None = None
            if row.result == AppealResult.DISMISSED.value:
                final = outcome
            elif row.result == AppealResult.SUBSTITUTED.value and outcome != _WITHDRAWN:
                final = outcome = row.outcome
            else:
                # Remanded (a successful appeal against a discontinuation too): first instance.
                outcome = None
            day = fixed.get((row.seq, "appeal_decided"), row.on)
            if lo <= day <= hi and row.result:
                tally.appeals[row.result] += 1
                if final in _DECISION_VALUES:
                    tally.appeal_outcomes[final] += 1
        elif row.event in ("discontinued", "withdrawn"):
            if row.event == "discontinued":
                outcome = _WITHDRAWN
            day = fixed.get((row.seq, row.event), row.on)
            # A person who never applied (withdrawn at the border) is no closed application.
            if made and lo <= day <= hi:
                tally.closed[row.event] += 1


def figures(
    events: Iterable[EventRow], *, date_from: date | None = None, date_to: date | None = None
) -> dict[str, Any]:
    """The flow figures of shared/api.md `/stats` from case events (any order)."""
    tally = _Tally()
    ordered = sorted(events, key=lambda e: (e.case_id, e.seq))
    for _, rows in groupby(ordered, key=lambda e: e.case_id):
        _replay(list(rows), tally, date_from, date_to)
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
        "otherwise_closed": sum(tally.closed.values()),
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
                "median": nearest_rank(days, 50),
                "p90": nearest_rank(days, 90),
                "count": len(days),
            }
            for proc, days in sorted(tally.days.items(), key=lambda kv: order.get(kv[0], 99))
        },
    }


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


def load_events(
    engine: Engine,
    *,
    jurisdiction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[EventRow]:
    """The events the replay needs, of the cases that can contribute to the window.

    With a window, only cases with a counted event dated inside it (or with a date correction,
    which may move one in) are read, through the (action, on) index; their whole relevant
    history is read, since a decision's processing time starts at an earlier lodging.
    """
    e = SQLModel.metadata.tables[CaseEventRecord.__tablename__].c
    # Data is fetched as text and decoded only for the rows that need a field of it: decoding
    # every row's JSON (or extracting fields in SQL) was most of the cost of this query.
    query = sa.select(e.case_id, e.seq, e.action, e.event, e.on, sa.cast(e.data, sa.Text)).where(
        e.action.in_(COUNTED + CONTEXT)
    )
    if jurisdiction:
        cases = SQLModel.metadata.tables[CaseRecord.__tablename__].c
        query = query.where(
            e.case_id.in_(sa.select(cases.id).where(cases.jurisdiction == jurisdiction))
        )
    if date_from or date_to:
        dated: list[ColumnElement[bool]] = [e.action.in_(COUNTED)]
        if date_from:
            dated.append(e.on >= date_from)
        if date_to:
            dated.append(e.on <= date_to)
        touched = sa.select(e.case_id).where(*dated)
        fixes = sa.select(e.case_id).where(e.action == "correct_event")
        query = query.where(sa.or_(e.case_id.in_(touched), e.case_id.in_(fixes)))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(e.case_id, e.seq)).all()
    return [_row(*r) for r in rows]


_WITH_DATA = frozenset(
    {
        "lodge",
        "decide",
        "decide_admissibility",
        "decide_appeal",
        "assign_procedure",
        "correct_event",
    }
)


def _row(
    case_id: str, seq: int, action: str, event: str | None, on: date, text: str | None
) -> EventRow:
    if action not in _WITH_DATA or not text:
        return EventRow(case_id, seq, action, event, on)
    data = json.loads(text)
    fixed_to = data.get("date") if action == "correct_event" else None
    return EventRow(
        case_id,
        seq,
        action,
        event,
        on,
        outcome=data.get("outcome"),
        subsequent=data.get("subsequent"),
        admissible=data.get("admissible"),
        procedure=data.get("procedure"),
        result=data.get("result"),
        corrects=data.get("event") if action == "correct_event" else None,
        corrected_to=date.fromisoformat(fixed_to) if isinstance(fixed_to, str) else None,
    )


def backlog(engine: Engine, *, jurisdiction: str | None = None) -> tuple[dict[str, int], int]:
    """Open cases per stage now (every open stage, zeros included) and how many are overdue."""
    c = SQLModel.metadata.tables[CaseRecord.__tablename__].c
    where = [c.stage.not_in(TERMINAL), *([c.jurisdiction == jurisdiction] if jurisdiction else [])]
    with engine.connect() as conn:
        per_stage: dict[str, int] = {
            stage: n
            for stage, n in conn.execute(
                sa.select(c.stage, sa.func.count()).where(*where).group_by(c.stage)
            ).all()
        }
        overdue = conn.execute(
            sa.select(sa.func.count()).where(*where, c.overdue == sa.true())
        ).scalar_one()
    stages = {s.value: int(per_stage.get(s.value, 0)) for s in Stage if s.value not in TERMINAL}
    return stages, int(overdue)


def compute(
    engine: Engine,
    *,
    jurisdiction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    today: date,
) -> dict[str, Any]:
    """Every `/stats` figure: flows inside the window, stocks as of now."""
    events = load_events(engine, jurisdiction=jurisdiction, date_from=date_from, date_to=date_to)
    stages, overdue = backlog(engine, jurisdiction=jurisdiction)
    return {
        "from": date_from.isoformat() if date_from else None,
        "to": date_to.isoformat() if date_to else None,
        "jurisdiction": jurisdiction,
        "as_of": today.isoformat(),
        **figures(events, date_from=date_from, date_to=date_to),
        "backlog": stages,
        "overdue": overdue,
    }
