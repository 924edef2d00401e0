"""Readable case references: `RS-2026-000123` (family, year of identification, a number).

Numbers come from one counter row per family and year, incremented inside the transaction that
stores the new case's person: on PostgreSQL the row lock, on SQLite the database's single writer,
make concurrent creations take turns, so no two cases ever get the same number; a rolled back
creation gives its number back before anyone else could see it. Numbers are never reused: the
counter only goes up, and a reference stays with its case for good (`case_references`).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from db.engine import upsert_into
from db.tables import CaseReferenceRecord, ReferenceCounterRecord

REFERENCE = re.compile(r"^(?P<family>[A-Za-z]{2,16})-(?P<year>\d{4})-(?P<number>\d{1,9})$")
"""What a typed reference looks like (`normalise` gives its one spelling)."""

_COUNTERS = SQLModel.metadata.tables[ReferenceCounterRecord.__tablename__]
_REFERENCES = SQLModel.metadata.tables[CaseReferenceRecord.__tablename__]


def format_reference(family: str, year: int, number: int) -> str:
    """`RS-2026-000123`: the family upper-cased, the year, the number zero-padded to six."""
    return f"{family.upper()}-{year:04d}-{number:06d}"


def normalise(text: str) -> str | None:
    """The reference `text` names, or None if it names none.

    Typed in any case, with spaces around, and the number with or without its zeros:
    ` rs-2026-123` is `RS-2026-000123`.
    """
    found = REFERENCE.match(text.strip())
    if found is None:
        return None
    return format_reference(found["family"], int(found["year"]), int(found["number"]))


def assign_reference(session: Session, case_id: str, family: str, year: int) -> str:
    """Take the next number of (family, year) for `case_id`, in the session's transaction.

    The caller commits (with the case's person), or rolls back, which returns the number.
    """
    dialect = session.get_bind().dialect.name
    # The counter row exists first (a concurrent first case of the year inserts it too).
    session.execute(
        upsert_into(dialect, _COUNTERS)
        .values(family=family, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["family", "year"])
    )
    # The write takes the lock (PostgreSQL: the row; SQLite: the database) before the read.
    where = (_COUNTERS.c.family == family) & (_COUNTERS.c.year == year)
    session.execute(sa.update(_COUNTERS).where(where).values(last=_COUNTERS.c.last + 1))
    number = session.execute(sa.select(_COUNTERS.c.last).where(where)).scalar_one()
    reference = format_reference(family, year, int(number))
    session.execute(sa.insert(_REFERENCES).values(case_id=case_id, reference=reference))
    return reference


def reference_of(engine: Engine, case_id: str) -> str | None:
    """The reference given to a case when it was opened (None for one begun before them)."""
    with Session(engine) as session:
        found = session.execute(
            sa.select(_REFERENCES.c.reference).where(_REFERENCES.c.case_id == case_id)
        ).scalar_one_or_none()
    return None if found is None else str(found)


def registered_reference(case_id: str) -> sa.ScalarSelect[str]:
    """A scalar subquery: the reference registered for `case_id` (null if none)."""
    return (
        sa.select(_REFERENCES.c.reference).where(_REFERENCES.c.case_id == case_id).scalar_subquery()
    )
