"""Finding a case by its person or its reference (`POST /cases/search`).

What is typed is split into a reference (`RS-2026-000123`, any case, padding optional), dates
of birth (ISO) and the rest, a name; every part given must match. Names are compared as the
duplicate check compares them (`db.duplicates`: transliterated with `anyascii`, then
`rapidfuzz`), more leniently: a searcher types a name as heard, with typos and another
transliteration, and perhaps only part of it. Only cases the user may read are searched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from db.duplicates import name_key, name_scores
from db.references import normalise
from db.tables import CaseRecord, CaseReferenceRecord, PersonRecord, UserRecord
from db.users import Role

_PERSONS = SQLModel.metadata.tables[PersonRecord.__tablename__]
_CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
_REFERENCES = SQLModel.metadata.tables[CaseReferenceRecord.__tablename__]

_DATE_PART = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Query:
    """What a search string asks for."""

    reference: str | None
    dates_of_birth: tuple[date, ...]
    name: str
    """The name's `name_key` (empty when no name was typed)."""

    @property
    def empty(self) -> bool:
        """Nothing to search for."""
        return self.reference is None and not self.dates_of_birth and not self.name


def parse(text: str) -> Query:
    """Split a search string into a reference, dates of birth and a name."""
    reference: str | None = None
    dates: list[date] = []
    rest: list[str] = []
    for part in text.split():
        if reference is None and (reference := normalise(part)) is not None:
            continue
        if _DATE_PART.match(part):
            try:
                dates.append(date.fromisoformat(part))
                continue
            except ValueError:
                pass  # not a real date: part of the name, then
        rest.append(part)
    return Query(reference, tuple(dates), name_key(" ".join(rest), ""))


@dataclass(frozen=True)
class Hit:
    """One case found, with how it matched."""

    case_id: str
    score: float
    matched: tuple[str, ...]


def search(engine: Engine, user: UserRecord, text: str, limit: int) -> list[dict[str, Any]]:
    """The cases within the user's reach that match `text`, best first (at most `limit`)."""
    query = parse(text)
    if query.empty:
        return []
    reference = sa.func.coalesce(_REFERENCES.c.reference, _CASES.c.reference)
    joined = _PERSONS.outerjoin(_CASES, _CASES.c.id == _PERSONS.c.case_id).outerjoin(
        _REFERENCES, _REFERENCES.c.case_id == _PERSONS.c.case_id
    )
    conditions: list[sa.ColumnElement[bool]] = []
    if user.role == Role.LEGAL_AID:
        if not user.org:
            return []
        conditions.append(_CASES.c.legal_aid_org == user.org)
    elif user.role == Role.BORDER_OFFICER:
        conditions.append(_PERSONS.c.created_by == user.name)
    elif user.role not in (Role.CASEWORKER, Role.SUPERVISOR):
        return []
    if query.reference is not None:
        conditions.append(reference == query.reference)
    if query.dates_of_birth:
        conditions.append(_PERSONS.c.date_of_birth.in_(query.dates_of_birth))
    candidates = (
        sa.select(_PERSONS.c.case_id, _PERSONS.c.name_key, reference.label("reference"))
        .select_from(joined)
        .where(*conditions)
    )
    with Session(engine) as session:
        rows = session.execute(candidates).all()
        matched = tuple(
            what
            for what, given in (
                ("reference", query.reference),
                ("date_of_birth", query.dates_of_birth),
            )
            if given
        )
        if query.name:
            scores = name_scores(query.name, [key for _, key, _ in rows])
            hits = [
                Hit(case_id, score, (*matched, "name"))
                for (case_id, _, _), score in zip(rows, scores, strict=True)
                if score > 0
            ]
        else:
            hits = [Hit(case_id, 100.0, matched) for case_id, _, _ in rows]
        by_reference = {case_id: ref or "" for case_id, _, ref in rows}
        hits.sort(key=lambda h: (-h.score, by_reference[h.case_id], h.case_id))
        hits = hits[:limit]
        if not hits:
            return []
        details = {
            row.case_id: row
            for row in session.execute(
                sa.select(
                    _PERSONS.c.case_id,
                    _PERSONS.c.given_name,
                    _PERSONS.c.family_name,
                    _PERSONS.c.date_of_birth,
                    _PERSONS.c.nationality,
                    _CASES.c.stage,
                    _CASES.c.jurisdiction,
                    reference.label("reference"),
                )
                .select_from(joined)
                .where(_PERSONS.c.case_id.in_([h.case_id for h in hits]))
            ).all()
        }
    return [_item(details[h.case_id], h) for h in hits if h.case_id in details]


def _item(row: Any, hit: Hit) -> dict[str, Any]:
    return {
        "id": row.case_id,
        "reference": row.reference,
        "stage": row.stage,
        "jurisdiction": row.jurisdiction,
        "person": {
            "given_name": row.given_name,
            "family_name": row.family_name,
            "date_of_birth": row.date_of_birth.isoformat() if row.date_of_birth else None,
            "nationality": row.nationality,
        },
        "score": hit.score,
        "matched": list(hit.matched),
    }
