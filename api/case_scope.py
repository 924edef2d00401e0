"""Which cases a user may learn about: applied to every field that names other cases.

A legal aid org reads its own org's cases and a border officer the cases it opened; anything
else is `404` to them, so no answer may carry the id of such a case either (a linked case, a
duplicate candidate...). Staff read every case; admins none.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.tables import CaseRecord, PersonRecord, UserRecord
from db.users import Role

STAFF_ROLES = frozenset({Role.CASEWORKER.value, Role.SUPERVISOR.value})


def readable_case_ids(engine: Engine, user: UserRecord, case_ids: Iterable[str]) -> list[str]:
    """The ids among `case_ids` that `user` may read, sorted (one query for scoped roles)."""
    wanted = sorted(set(case_ids))
    if not wanted or user.role in STAFF_ROLES:
        return wanted
    if user.role == Role.LEGAL_AID.value and user.org:
        query = select(CaseRecord.id).where(
            col(CaseRecord.id).in_(wanted), CaseRecord.legal_aid_org == user.org
        )
    elif user.role == Role.BORDER_OFFICER.value:
        query = select(PersonRecord.case_id).where(
            col(PersonRecord.case_id).in_(wanted), PersonRecord.created_by == user.name
        )
    else:
        return []
    with Session(engine) as session:
        return sorted(set(session.exec(query).all()))
