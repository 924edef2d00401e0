"""Eurostat's asylum tables and the anonymised case-level export, from the read model.

The tables of Regulation (EC) No 862/2007 Art 4 as amended by Regulation (EU) 2020/851, in
Eurostat's codes (models/eurostat_codes.py). Each counts persons (one case is one person here)
on the date of one legal event, the same dates `/stats` counts on (db/stat_facts.py replays them,
`correct_event` included):

- `applicants`, `unaccompanied`: the *lodging* of the application (first-time or subsequent).
  Eurostat counts persons "having submitted an application" and regards it as lodged, after
  Regulation (EU) 604/2013 Art 20(2), once the applicant's form or the authorities' report has
  reached the competent authority: the `lodge` act, not the making or the registration.
  `/stats` counts applications on the same date, so the two agree. A person is counted once
  per month (Eurostat's rule), however many lodgings their case has in it.
- `pending`: the stock at the end of each month: lodged, and not yet withdrawn, discontinued or
  finally decided (an appeal decided on the merits, or a decision become final: the derived
  `decision_final`, or `make_final`). A remanded case stays pending; a discontinued one whose
  reopening is requested (`request_reopening`) is pending again from that day.
- `withdrawals`: the day the application is withdrawn (explicit) or discontinued after an
  implicit withdrawal (the `discontinue` or confirmed abandonment), Eurostat's date "the
  application is considered withdrawn".
- `first_instance`: the first-instance decision's date (inadmissibility counts as rejected).
- `final`: the appeal decision that ends the case on the merits (dismissed: the first-instance
  outcome stands; substituted: the new one). A remand is no final decision. Where a further
  appeal is lodged, the court's decision is the final one instead (db/stat_facts.py).
- `resettled` (issue 20): the day of the departure to the resettlement state
  (`record_resettlement_departure`), quarterly; read from `case_events` as `accelerated` is.
- `accelerated`: the day the case is channelled into the accelerated procedure
  (`assign_procedure`); the facts table does not hold it, so it is read from `case_events` by
  the (action, on) index.
- `reception` (issue #19): the stock at the end of each month of persons holding a place in a
  reception centre (the latest of `assign_accommodation` / `end_accommodation` on or before
  that day is an assignment), i.e. receiving material reception conditions in kind; read from
  `case_events` like `accelerated`. Eurostat collects the figure since 2021; its dataset code
  is not verified (`?`).

Ages are completed years on that date (the stock: at the month's end); the person's sex, birth
date and citizenship come from the registry (`persons`). The unaccompanied-minor flag is the
one the person had at the lodging: the opening's (recorded with `identify`), as screening,
`record_vulnerability` and age assessments dated before it changed it (cases opened before the
opening's flag was recorded: the case's current flag).
This reads every fact up to the window's end (the stock needs a case's whole past): a few
hundred thousand narrow rows at 100,000 cases, fine for a monthly report, not for a dashboard
refreshed per second.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from core import csv_safety
from db.stat_facts import APPEAL, APPEAL_OUTCOME, APPLICATION, CLOSED, DECISION
from db.tables import CaseEventRecord, CaseRecord, CaseStatFactRecord, PersonRecord
from models import eurostat_codes as codes
from models.enums import Procedure


@dataclass(frozen=True)
class TableSpec:
    """One Eurostat table: its id in the routes, the dataset it mirrors, and its dimensions."""

    id: str
    dataset: str
    """Eurostat's dataset code; a trailing `?` marks one not verified against Eurostat."""
    title: str
    frequency: Literal["monthly", "quarterly"]
    """The `time` dimension's period."""
    dimensions: tuple[str, ...]


_PERSON = ("citizen", "sex", "age")
TABLES: dict[str, TableSpec] = {
    t.id: t
    for t in (
        TableSpec(
            "applicants",
            "migr_asyappctzm",
            "Asylum applicants (first-time and subsequent) by citizenship, age and sex",
            "monthly",
            ("time", *_PERSON, "asyl_app"),
        ),
        TableSpec(
            "unaccompanied",
            "migr_asyumactm?",
            "Asylum applicants considered to be unaccompanied minors by citizenship, age, sex",
            "monthly",
            ("time", *_PERSON),
        ),
        TableSpec(
            "pending",
            "migr_asypenctzm",
            "Persons subject of applications pending at the end of the month",
            "monthly",
            ("time", *_PERSON),
        ),
        TableSpec(
            "withdrawals",
            "migr_asywitham?",
            "Withdrawn applications by type of withdrawal, citizenship, age and sex",
            "monthly",
            ("time", *_PERSON, "typwithd"),
        ),
        TableSpec(
            "first_instance",
            "migr_asydcfstq",
            "First instance decisions by outcome, citizenship, age and sex",
            "quarterly",
            ("time", *_PERSON, "decision"),
        ),
        TableSpec(
            "final",
            "migr_asydcfinq?",
            "Final decisions (on appeal) by outcome, citizenship, age and sex",
            "quarterly",
            ("time", *_PERSON, "decision"),
        ),
        TableSpec(
            "accelerated",
            "migr_asyaccm?",
            "Applicants whose applications are processed in the accelerated procedure",
            "monthly",
            ("time", *_PERSON),
        ),
        # Issue #19: collected since 2021 (Regulation (EU) 2020/851); the dataset's code was
        # not found in any source read here, so `migr_asyrecm?` is a placeholder to check.
        TableSpec(
            "reception",
            "migr_asyrecm?",
            "Applicants receiving material reception conditions (a place in a reception centre) "
            "at the end of the month",
            "monthly",
            ("time", *_PERSON),
        ),
        # Tracks (issue 20, branch `tracks`): safe legal pathways. Eurostat publishes resettled
        # persons (code and frequency not verified: quarterly here, summed to a year at will).
        TableSpec(
            "resettled",
            "migr_asyresa?",
            "Resettled persons by citizenship, age and sex",
            "quarterly",
            ("time", *_PERSON),
        ),
    )
}


@dataclass(frozen=True)
class Person:
    """What the tables read of the person behind a case."""

    citizen: str
    sex: str
    born: date | None
    unaccompanied: bool


@dataclass
class CaseLine:
    """One case's counted facts (`seq`, kind, key, date) and the events the stock needs."""

    person: Person
    jurisdiction: str
    facts: list[tuple[int, str, str, date]] = field(default_factory=list)
    finals: list[date] = field(default_factory=list)
    """`decision_final` and `make_final` dates: a decision become final."""
    accelerated: list[date] = field(default_factory=list)
    reopened: list[date] = field(default_factory=list)
    """`request_reopening` dates: a discontinued application pending again."""
    accommodation: list[tuple[date, int, bool]] = field(default_factory=list)
    """`assign_accommodation` (True) and `end_accommodation` (False) by date and `seq`."""
    resettled: list[date] = field(default_factory=list)
    """`record_resettlement_departure` dates: the person arrived in the resettlement state."""
    opened_unaccompanied: bool | None = None
    """The unaccompanied-child flag the case was opened with (None: opened before the
    opening's flag was recorded with its `identify` event)."""
    unaccompanied: list[tuple[date, int, bool]] = field(default_factory=list)
    """The flag as later events set it, by date and `seq`: screening, `record_vulnerability`,
    age assessment."""


def unaccompanied_at(line: CaseLine, on: date, seq: int) -> bool:
    """Whether the person was considered an unaccompanied minor at the event (`on`, `seq`).

    As the events before it set the flag (an age assessment found adult after the lodging
    does not take back the lodging's count: Eurostat counts applicants as they were then).
    A case opened before the opening's flag was recorded has no such history: its current
    flag, as the tables read it before.
    """
    if line.opened_unaccompanied is None:
        return line.person.unaccompanied
    before = [(d, s, flag) for d, s, flag in line.unaccompanied if (d, s) < (on, seq)]
    return max(before)[2] if before else line.opened_unaccompanied


_UNACCOMPANIED_ACTS = (
    "complete_screening",
    "record_vulnerability",
    "record_age_assessment",
)
_UAC = "unaccompanied_child"


def _unaccompanied_change(action: str, data: dict[str, Any]) -> bool | None:
    """What one later event did to the unaccompanied-child flag (None: nothing).

    As `models.safeguards` applies the acts.
    """
    if action == "complete_screening":
        return True if _UAC in (data.get("needs") or []) else None
    if action == "record_vulnerability":
        return bool(data.get("present")) if data.get("kind") == _UAC else None
    if data.get("outcome") == "adult":  # record_age_assessment
        return False
    flag = data.get("unaccompanied")
    return None if flag is None else bool(flag)


def accommodated_on(line: CaseLine, end: date) -> bool:
    """Whether the person holds a place in a centre at the end of the day `end`."""
    held = [(on, seq, start) for on, seq, start in line.accommodation if on <= end]
    return bool(held) and max(held)[2]


def month_end(first: date) -> date:
    """The last day of `first`'s month."""
    if (first.year, first.month) == (date.max.year, 12):
        return date.max
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def months(lo: date, hi: date) -> list[date]:
    """The first days of every month from `lo`'s to `hi`'s."""
    out, day = [], lo.replace(day=1)
    while day <= hi:
        out.append(day)
        day = month_end(day) + timedelta(days=1)
    return out


def pending_on(line: CaseLine, end: date) -> bool:
    """Whether the case's application is pending at the end of the day `end`.

    From its last lodging or reopening on or before `end` until a withdrawal, a
    discontinuation, a final appeal decision or a decision become final, on or after that day.
    A reopening after an implicit withdrawal (Directive 2013/32/EU Art 28(2)) resumes the same
    application: it is pending again, but no new applicant is counted.
    """
    lodged = [on for _, kind, _, on in line.facts if kind == APPLICATION and on <= end]
    starts = lodged + [on for on in line.reopened if on <= end] if lodged else []
    if not starts:
        return False
    start = max(starts)
    stops = [on for _, kind, _, on in line.facts if kind in (CLOSED, APPEAL_OUTCOME)]
    return not any(start <= on <= end for on in stops + line.finals)


def count(table: str, lines: Iterable[CaseLine], lo: date, hi: date) -> Counter[tuple[str, ...]]:
    """The cells of one table (dimension codes → persons) for events dated `lo`..`hi`."""
    cells: Counter[tuple[str, ...]] = Counter()

    def who(p: Person, on: date) -> tuple[str, str, str]:
        return (p.citizen, p.sex, codes.age_class(p.born, on))

    for line in lines:
        p = line.person
        counted: set[str] = set()  # months this person is already counted in
        if table in ("pending", "reception"):
            held = pending_on if table == "pending" else accommodated_on
            for first in months(lo, hi):
                end = month_end(first)
                if held(line, end):
                    cells[(codes.month(end), *who(p, end))] += 1
            continue
        if table == "resettled":
            # Counted on the departure to the resettlement state, once per quarter.
            for on in sorted(line.resettled):
                if lo <= on <= hi and codes.quarter(on) not in counted:
                    counted.add(codes.quarter(on))
                    cells[(codes.quarter(on), *who(p, on))] += 1
            continue
        if table == "accelerated":
            # Persons: channelled twice in one month (after a remand) is one person.
            for on in sorted(line.accelerated):
                if lo <= on <= hi and codes.month(on) not in counted:
                    counted.add(codes.month(on))
                    cells[(codes.month(on), *who(p, on))] += 1
            continue
        # In `seq` order: of two lodgings in one month, the first says first-time or subsequent.
        for seq, kind, key, on in sorted(line.facts):
            if not lo <= on <= hi:
                continue
            if kind == APPLICATION and codes.month(on) in counted:
                continue
            if table == "applicants" and kind == APPLICATION:
                counted.add(codes.month(on))
                for applicant in ("ASY_APP", codes.APPLICANTS[key]):
                    cells[(codes.month(on), *who(p, on), applicant)] += 1
            elif table == "unaccompanied" and kind == APPLICATION:
                if not unaccompanied_at(line, on, seq):
                    continue
                counted.add(codes.month(on))
                minor = codes.minor_age_class(p.born, on)
                if minor is not None:
                    cells[(codes.month(on), p.citizen, p.sex, minor)] += 1
            elif table == "withdrawals" and kind == CLOSED:
                cells[(codes.month(on), *who(p, on), codes.WITHDRAWALS[key])] += 1
            elif (table, kind) in (("first_instance", DECISION), ("final", APPEAL_OUTCOME)):
                for code in codes.decision_cells(key):
                    cells[(codes.quarter(on), *who(p, on), code)] += 1
    return cells


def cells(
    table: str, lines: Iterable[CaseLine], lo: date, hi: date, *, rounded: bool = False
) -> list[dict[str, Any]]:
    """The table's non-zero cells as dicts (dimension → code, `value`), in dimension order.

    Rounded, a cell that rounds to 0 is left out like an empty one: listed with 0 it would
    still say that one or two persons are in it.
    """
    spec = TABLES[table]
    out = []
    for key, n in sorted(count(table, lines, lo, hi).items()):
        value = codes.round5(n) if rounded else n
        if value:
            out.append(dict(zip(spec.dimensions, key, strict=True)) | {"value": value})
    return out


# ---------------------------------------------------------------------------------------------
# The anonymised export

QUASI_IDENTIFIERS = ("jurisdiction", "citizen", "sex", "age", "month", "outcome")
"""The export's columns: every one a quasi-identifier, so every combination is checked."""


def outcome_now(line: CaseLine, lodged_seq: int) -> str:
    """The outcome of the application lodged at `lodged_seq`, as far as the record goes.

    Eurostat's decision code of the latest decision (an appeal's outcome replacing the first
    instance's), `WITHDRAWN` (explicitly or implicitly), or `PENDING` (none yet, or remanded).
    """
    outcome = "PENDING"
    for seq, kind, key, _ in sorted(line.facts):
        if seq <= lodged_seq:
            continue
        if kind in (DECISION, APPEAL_OUTCOME):
            outcome = codes.decision(key) or outcome
        elif kind == APPEAL and key == "quashed_remanded":
            outcome = "PENDING"
        elif kind == CLOSED:
            outcome = "WITHDRAWN"
    return outcome


def export_rows(lines: Iterable[CaseLine], lo: date, hi: date) -> list[tuple[str, ...]]:
    """One generalised row per case lodged in the window (its last lodging there).

    Only the quasi-identifiers, generalised: the lodging month (not the day), the age class at
    lodging (not the birth date), the decision code (not the grounds). Sorted, so the order
    says nothing about the cases' ids or when they were recorded.
    """
    rows = []
    for line in lines:
        lodgings = [(s, on) for s, kind, _, on in line.facts if kind == APPLICATION]
        lodgings = [(s, on) for s, on in lodgings if lo <= on <= hi]
        if not lodgings:
            continue
        seq, on = max(lodgings)
        p = line.person
        age = codes.age_class(p.born, on)
        rows.append(
            (line.jurisdiction, p.citizen, p.sex, age, codes.month(on), outcome_now(line, seq))
        )
    return sorted(rows)


def k_anonymous(rows: list[tuple[str, ...]], k: int) -> tuple[list[tuple[str, ...]], int]:
    """The rows whose quasi-identifier combination occurs at least `k` times, and how many not.

    Suppression, not generalisation: a combination seen fewer than `k` times is left out whole,
    so what remains is k-anonymous on every column (all of them are quasi-identifiers).
    """
    seen = Counter(rows)
    kept = [r for r in rows if seen[r] >= k]
    return kept, len(rows) - len(kept)


# ---------------------------------------------------------------------------------------------
# SQL

_ENDING = ("decision_final", "make_final")
_ACCOMMODATION = ("assign_accommodation", "end_accommodation")
_RESETTLED = "record_resettlement_departure"


def load(conn: Connection, *, jurisdiction: str | None, hi: date) -> list[CaseLine]:
    """Every case's counted facts and stock events dated up to `hi`, with its person.

    Two statements: the facts (db/stat_facts.py) and the few events the facts do not hold
    (a decision become final, the accelerated procedure), each joined to the case and person.
    Retracted events count nowhere (shared/api.md); the facts already leave them out.
    """
    t = SQLModel.metadata.tables
    ft, et = t[CaseStatFactRecord.__tablename__], t[CaseEventRecord.__tablename__]
    ct, pt = t[CaseRecord.__tablename__], t[PersonRecord.__tablename__]
    f, e, c, p = ft.c, et.c, ct.c, pt.c
    person_cols = (c.jurisdiction, c.unaccompanied_child, p.nationality, p.sex, p.date_of_birth)
    mine = [c.jurisdiction == jurisdiction] if jurisdiction else []
    lines: dict[str, CaseLine] = {}

    def line(case_id: str, row: Any) -> CaseLine:
        if case_id not in lines:
            person = Person(
                codes.citizen(row.nationality),
                codes.sex(row.sex),
                row.date_of_birth,
                bool(row.unaccompanied_child),
            )
            lines[case_id] = CaseLine(person, row.jurisdiction)
        return lines[case_id]

    facts = (
        sa.select(f.case_id, f.seq, f.kind, f.key.label("fact_key"), f.on, *person_cols)
        .select_from(ft.join(ct, c.id == f.case_id).outerjoin(pt, p.case_id == f.case_id))
        .where(f.on <= hi, *mine)
    )
    events = (
        sa.select(e.case_id, e.action, e.on, e.seq, e.data, *person_cols)
        .select_from(et.join(ct, c.id == e.case_id).outerjoin(pt, p.case_id == e.case_id))
        .where(
            e.action.in_(
                (
                    "assign_procedure",
                    "request_reopening",
                    _RESETTLED,
                    *_ENDING,
                    *_ACCOMMODATION,
                    "identify",
                    *_UNACCOMPANIED_ACTS,
                )
            ),
            e.on <= hi,
            sa.not_(e.retracted),
            *mine,
        )
    )
    for fact in conn.execute(facts):
        line(fact.case_id, fact).facts.append((fact.seq, fact.kind, fact.fact_key, fact.on))
    for event in conn.execute(events):
        if event.action in _ENDING:
            line(event.case_id, event).finals.append(event.on)
        elif event.action == "request_reopening":
            line(event.case_id, event).reopened.append(event.on)
        elif event.action in _ACCOMMODATION:
            start = event.action == _ACCOMMODATION[0]
            line(event.case_id, event).accommodation.append((event.on, event.seq, start))
        elif event.action == _RESETTLED:
            line(event.case_id, event).resettled.append(event.on)
        elif event.action == "identify":
            if event.case_id in lines:  # a case with no counted fact needs no line
                flag = (event.data or {}).get(_UAC)
                lines[event.case_id].opened_unaccompanied = None if flag is None else bool(flag)
        elif event.action in _UNACCOMPANIED_ACTS:
            flag = _unaccompanied_change(event.action, event.data or {})
            if flag is not None:
                line(event.case_id, event).unaccompanied.append((event.on, event.seq, flag))
        elif (event.data or {}).get("procedure") == Procedure.ACCELERATED.value:
            line(event.case_id, event).accelerated.append(event.on)
    return list(lines.values())


def _lines(engine: Engine, jurisdiction: str | None, hi: date) -> list[CaseLine]:
    with engine.connect() as conn:
        return load(conn, jurisdiction=jurisdiction, hi=hi)


def table(
    engine: Engine,
    name: str,
    *,
    lo: date,
    hi: date,
    jurisdiction: str | None = None,
    rounded: bool = False,
) -> list[dict[str, Any]]:
    """One table's cells for events dated `lo`..`hi` (whole months), optionally rounded to 5."""
    return cells(name, _lines(engine, jurisdiction, hi), lo, hi, rounded=rounded)


def every_table(
    engine: Engine, *, lo: date, hi: date, jurisdiction: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every table's cells for one window (the statistics page): the read model read once."""
    lines = _lines(engine, jurisdiction, hi)
    return {name: cells(name, lines, lo, hi) for name in TABLES}


def export(
    engine: Engine, *, k: int, lo: date, hi: date, jurisdiction: str | None = None
) -> tuple[list[dict[str, str]], int]:
    """The k-anonymous export: its rows (column → value) and how many rows were suppressed."""
    rows = export_rows(_lines(engine, jurisdiction, hi), lo, hi)
    kept, suppressed = k_anonymous(rows, k)
    return [dict(zip(QUASI_IDENTIFIERS, r, strict=True)) for r in kept], suppressed


def to_csv(columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> str:
    """Rows as CSV with a header, through the project's formula-safe writer."""
    out = io.StringIO()
    writer = csv_safety.dict_writer(out, list(columns))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
