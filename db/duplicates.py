"""Likely-duplicate detection at registration (seed 002: several claims while moving on).

Names are compared after transliteration (Cyrillic, Arabic and other scripts to Latin with
`anyascii`), token order ignored, with `rapidfuzz`. Matches are only *proposed*: a supervisor
confirms (links the cases) or dismisses. Nothing is ever merged automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from anyascii import anyascii
from rapidfuzz import fuzz
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.tables import DuplicateRecord, PersonRecord

NAME_THRESHOLD = 85.0
"""Token-sort similarity (0-100) from which two transliterated names count as alike."""


def name_key(given: str, family: str) -> str:
    """A comparable form of a full name: Latin letters, lower case, single spaces."""
    text = anyascii(f"{given} {family}").lower()
    cleaned = "".join(ch if ch.isalnum() else " " for ch in text)
    return " ".join(cleaned.split())


@dataclass(frozen=True)
class Match:
    """Another case whose person is probably the same one."""

    case_id: str
    score: float
    reasons: list[str]


def score(person: PersonRecord, other: PersonRecord) -> Match | None:
    """Score one pair; None when it is not a likely match."""
    if person.biometric_ref and person.biometric_ref == other.biometric_ref:
        return Match(other.case_id, 100.0, ["biometric reference matches"])
    similarity = fuzz.token_sort_ratio(person.name_key, other.name_key)
    if similarity < NAME_THRESHOLD:
        return None
    reasons = [f"names {similarity:.0f}% alike after transliteration"]
    same_dob = person.date_of_birth is not None and person.date_of_birth == other.date_of_birth
    swapped = (
        person.date_of_birth is not None
        and other.date_of_birth is not None
        and person.date_of_birth.year == other.date_of_birth.year
        and person.date_of_birth.month == other.date_of_birth.day
        and person.date_of_birth.day == other.date_of_birth.month
    )
    same_nationality = bool(person.nationality) and person.nationality == other.nationality
    if same_dob:
        reasons.append("same date of birth")
    elif swapped:
        reasons.append("date of birth with day and month swapped")
    if same_nationality:
        reasons.append("same nationality")
    likely = same_dob or swapped or (similarity >= 95 and same_nationality)
    if not likely:
        return None
    total = similarity * 0.6 + (30 if same_dob or swapped else 0) + (10 if same_nationality else 0)
    return Match(other.case_id, round(min(total, 99.0), 1), reasons)


def find_matches(session: Session, person: PersonRecord) -> list[Match]:
    """Likely duplicates of `person` among every other registered person."""
    conditions = []
    if person.biometric_ref:
        conditions.append(col(PersonRecord.biometric_ref) == person.biometric_ref)
    if person.date_of_birth is not None:
        # Same birth year covers exact and day/month-swapped dates; the index makes it cheap.
        start = person.date_of_birth.replace(month=1, day=1)
        conditions.append(
            col(PersonRecord.date_of_birth).between(start, start + timedelta(days=366))
        )
    if person.nationality and person.date_of_birth is None:
        conditions.append(col(PersonRecord.nationality) == person.nationality)
    if not conditions:
        return []
    others = session.exec(
        select(PersonRecord).where(PersonRecord.case_id != person.case_id, or_(*conditions))
    ).all()
    matches = [m for other in others if (m := score(person, other)) is not None]
    return sorted(matches, key=lambda m: -m.score)


def record_matches(engine: Engine, case_id: str) -> list[DuplicateRecord]:
    """Store pending duplicate reviews for a just-registered case (once per pair)."""
    with Session(engine, expire_on_commit=False) as session:
        return _record(session, case_id)


def _record(session: Session, case_id: str) -> list[DuplicateRecord]:
    person = session.get(PersonRecord, case_id)
    if person is None:
        return []
    existing = set(
        session.exec(
            select(DuplicateRecord.other_case_id).where(DuplicateRecord.case_id == case_id)
        ).all()
    )
    created = []
    for match in find_matches(session, person):
        if match.case_id in existing:
            continue
        record = DuplicateRecord(
            case_id=case_id,
            other_case_id=match.case_id,
            score=match.score,
            reasons=match.reasons,
            created_at=datetime.now(UTC),
        )
        session.add(record)
        created.append(record)
    session.commit()
    return created
