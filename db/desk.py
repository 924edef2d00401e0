"""The caseworker's desk: the open cases assigned to one user, most urgent deadline first."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.list_order import NO_DEADLINE
from db.supervision import TERMINAL
from db.tables import CaseRecord, PersonRecord

DESK_SIZE = 200
"""Cases the desk shows at most (a caseworker's caseload is far smaller)."""


def assigned_cases(
    engine: Engine, user: str, *, limit: int = DESK_SIZE
) -> list[tuple[CaseRecord, PersonRecord | None]]:
    """The user's open cases with their persons: next deadline first, cases without one last."""
    due = sa.func.coalesce(col(CaseRecord.next_deadline_due), sa.literal(NO_DEADLINE, sa.Date))
    query = (
        select(CaseRecord, PersonRecord)
        .outerjoin(PersonRecord, col(PersonRecord.case_id) == col(CaseRecord.id))
        .where(CaseRecord.assignee == user, col(CaseRecord.stage).not_in(TERMINAL))
        .order_by(due, col(CaseRecord.id))
        .limit(limit)
    )
    with Session(engine) as session:
        return [(case, person) for case, person in session.exec(query).all()]
