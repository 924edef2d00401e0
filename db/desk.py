"""The desk (the open cases assigned to one user, or opened by one border officer) and names.

`assigned_cases` and `names_of` are for roles that may read every person (caseworkers and
supervisors): they filter by neither organisation nor creator. `created_cases` is the border
officer's own: only the cases that officer opened, whose persons it may read.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.list_order import NO_DEADLINE
from db.supervision import TERMINAL
from db.tables import CaseRecord, PersonRecord, UserRecord

DESK_SIZE = 200
"""Cases the desk shows at most (a caseworker's caseload is far smaller)."""


def _open_cases(
    engine: Engine, which: sa.ColumnElement[bool], limit: int
) -> list[tuple[CaseRecord, PersonRecord | None]]:
    """Open cases matching `which`, with their persons: next deadline first, none last."""
    due = sa.func.coalesce(col(CaseRecord.next_deadline_due), sa.literal(NO_DEADLINE, sa.Date))
    query = (
        select(CaseRecord, PersonRecord)
        .outerjoin(PersonRecord, col(PersonRecord.case_id) == col(CaseRecord.id))
        .where(which, col(CaseRecord.stage).not_in(TERMINAL))
        .order_by(due, col(CaseRecord.id))
        .limit(limit)
    )
    with Session(engine) as session:
        return [(case, person) for case, person in session.exec(query).all()]


def assigned_cases(
    engine: Engine, user: str, *, limit: int = DESK_SIZE
) -> list[tuple[CaseRecord, PersonRecord | None]]:
    """The user's open cases with their persons: next deadline first, cases without one last."""
    return _open_cases(engine, col(CaseRecord.assignee) == user, limit)


def created_cases(
    engine: Engine, officer: str, *, limit: int = DESK_SIZE
) -> list[tuple[CaseRecord, PersonRecord | None]]:
    """The open cases a border officer opened, with their persons, next deadline first."""
    return _open_cases(engine, col(PersonRecord.created_by) == officer, limit)


def names_of(engine: Engine, case_ids: list[str]) -> dict[str, str]:
    """The full name of the person of each case among `case_ids` (staff lists only)."""
    if not case_ids:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(PersonRecord).where(col(PersonRecord.case_id).in_(set(case_ids)))
        ).all()
    return {p.case_id: f"{p.given_name} {p.family_name}" for p in rows}


def assignable_users(engine: Engine) -> list[str]:
    """Names of the active caseworkers and supervisors (who may be assigned cases)."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(UserRecord.name)
                .where(
                    col(UserRecord.role).in_(("caseworker", "supervisor")),
                    col(UserRecord.revoked_at).is_(None),
                )
                .order_by(col(UserRecord.name))
            ).all()
        )
