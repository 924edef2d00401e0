"""Counts of cases read from `case_tallies` instead of counted case by case.

`case_tallies` (migration 0016) holds how many cases share each (jurisdiction, stage,
procedure, pack, waiting for an interpreter, overdue); triggers on `cases` keep it in the
transaction of every write of a case row. A count over those columns is a sum over a few
thousand rows whatever the caseload (issue 18: at 1,000,000 cases the stuck list's total and the
backlog counted 400,000 to 900,000 index entries per request). Conditions on anything else (the
assignee, a date) cannot be read from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, func
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from db.tables import CaseRecord, CaseTallyRecord

CASE_KEY = ("jurisdiction", "stage", "procedure", "pack_id", "waiting_for_interpreter", "overdue")
"""The columns of `cases` a tally counts by (with the month of `stage_since`)."""

KEY = (*CASE_KEY, "since_month")
"""A tally's primary key."""

_TALLIES = SQLModel.metadata.tables[CaseTallyRecord.__tablename__]


@dataclass(frozen=True)
class Tallied:
    """A condition on the tallied columns (None: any value), as on `cases` or `case_tallies`."""

    stages: tuple[str, ...] | None = None
    jurisdiction: str | None = None
    procedure: str | None = None
    packs_in: tuple[str, ...] | None = None
    packs_not_in: tuple[str, ...] = ()
    waiting_for_interpreter: bool | None = None
    overdue: bool | None = None
    months_before: date | None = None
    """In the stage since a month before this one (the first of a month); tallies only."""

    def on(self, table: sa.Table) -> list[ColumnElement[bool]]:
        """The condition on `table`'s columns (`cases` or `case_tallies`; `cases` has no month)."""
        c = table.c
        found: list[ColumnElement[bool]] = []
        if self.stages is not None:
            found.append(c.stage.in_(self.stages))
        if self.jurisdiction is not None:
            found.append(c.jurisdiction == self.jurisdiction)
        if self.procedure is not None:
            found.append(c.procedure == self.procedure)
        if self.packs_in is not None:
            found.append(c.pack_id.in_(self.packs_in))
        if self.packs_not_in:
            found.append(c.pack_id.not_in(self.packs_not_in))
        if self.waiting_for_interpreter is not None:
            found.append(c.waiting_for_interpreter == self.waiting_for_interpreter)
        if self.overdue is not None:
            found.append(c.overdue == self.overdue)
        if self.months_before is not None:
            found.append(c.since_month < self.months_before)
        return found

    def count(self) -> sa.ScalarSelect[int]:
        """How many cases meet the condition, summed from the tallies (0 when none)."""
        return (
            sa.select(func.coalesce(func.sum(_TALLIES.c.n), 0))
            .where(*self.on(_TALLIES))
            .scalar_subquery()
        )


def by_stage_and_overdue(
    conn: Connection, *, jurisdiction: str | None = None
) -> dict[tuple[str, bool], int]:
    """Cases per (stage, overdue), optionally within a jurisdiction (one statement)."""
    t = _TALLIES.c
    where = Tallied(jurisdiction=jurisdiction).on(_TALLIES)
    rows = conn.execute(
        sa.select(t.stage, t.overdue, func.sum(t.n)).where(*where).group_by(t.stage, t.overdue)
    )
    return {(str(stage), bool(overdue)): int(n) for stage, overdue, n in rows}


def month_of(conn: Connection, day: ColumnElement[date]) -> ColumnElement[date]:
    """The first day of `day`'s month, in SQL, as the triggers compute it."""
    if conn.dialect.name == "postgresql":
        return sa.cast(func.date_trunc("month", day), sa.Date)
    return sa.type_coerce(func.date(day, "start of month"), sa.Date)


def _case_key(conn: Connection) -> list[ColumnElement[Any]]:
    cases = SQLModel.metadata.tables[CaseRecord.__tablename__]
    return [*(cases.c[name] for name in CASE_KEY), month_of(conn, cases.c.stage_since)]


def rebuild_tallies(conn: Connection) -> int:
    """Count every case again into `case_tallies` (a repair, and the benchmark's seeding).

    Returns the number of tally rows. The caller's transaction makes it one change.
    """
    conn.execute(sa.delete(_TALLIES))
    key = _case_key(conn)
    conn.execute(
        sa.insert(_TALLIES).from_select([*KEY, "n"], sa.select(*key, func.count()).group_by(*key))
    )
    return int(conn.execute(sa.select(func.count()).select_from(_TALLIES)).scalar_one())


def counted_anew(conn: Connection) -> dict[tuple[object, ...], int]:
    """The tallies as `cases` gives them now (combinations with no case left out)."""
    key = _case_key(conn)
    rows = conn.execute(sa.select(*key, func.count()).group_by(*key))
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def stored(conn: Connection) -> dict[tuple[object, ...], int]:
    """The tallies as stored (rows at 0 left out)."""
    key = [_TALLIES.c[name] for name in KEY]
    rows = conn.execute(sa.select(*key, _TALLIES.c.n).where(_TALLIES.c.n != 0))
    return {tuple(r[:-1]): int(r[-1]) for r in rows}
