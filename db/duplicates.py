"""Likely-duplicate detection at registration (seed 002: several claims while moving on).

Names are compared after transliteration (Cyrillic, Arabic and other scripts to Latin with
`anyascii`), token order ignored, with `rapidfuzz`. Matches are only *proposed*: a supervisor
confirms (links the cases) or dismisses. Nothing is ever merged automatically.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz import fuzz, process
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from db.tables import DuplicateRecord, PersonRecord

NAME_THRESHOLD = 85.0
"""Token-sort similarity (0-100) from which two transliterated names count as alike."""


def name_key(given: str, family: str) -> str:
    """A comparable form of a full name: Latin letters, lower case, single spaces."""
    text = anyascii(f"{given} {family}").lower()
    cleaned = "".join(ch if ch.isalnum() else " " for ch in text)
    return " ".join(cleaned.split())


# Search (`db.search`) compares a typed name with the stored ones more leniently than the
# duplicate check: the searcher knows only roughly how the name was written down. Spelling
# variants that transliterations of one name take are folded to one form first.
_FOLDS = (
    ("ph", "f"),
    ("kh", "h"),
    ("gh", "g"),
    ("dh", "d"),
    ("th", "t"),
    ("sh", "s"),
    ("ch", "c"),
    ("dj", "j"),
    ("ck", "k"),
    ("q", "k"),
    ("c", "k"),
    ("x", "ks"),
    ("w", "v"),
    ("ei", "ai"),
    ("ey", "ai"),
    ("ej", "ai"),
    ("ay", "ai"),
    ("aj", "ai"),
    ("ou", "u"),
    ("oo", "u"),
    ("ee", "i"),
    ("y", "i"),
)
_VOWELS = frozenset("aeiou")

TOKEN_THRESHOLD = 80.0
"""Similarity (0-100) from which a searched name part counts as found in a stored name."""


@lru_cache(maxsize=65536)
def fold(token: str) -> str:
    """One spelling of a name part across transliterations (`qarawi`, `karawi` → `karavi`)."""
    for variant, common in _FOLDS:
        token = token.replace(variant, common)
    # Doubled letters (`mohammed`, `mohamed`) count once.
    return "".join(ch for i, ch in enumerate(token) if i == 0 or ch != token[i - 1])


def _skeleton(folded: str) -> str:
    """The consonants of a folded name part: what a script without vowels writes."""
    return "".join(ch for ch in folded if ch not in _VOWELS)


def _token_score(typed: str, stored: str) -> float:
    """Similarity of two name parts as typed and stored (`name_key` tokens)."""
    folded, other = fold(typed), fold(stored)
    similarity = fuzz.ratio(folded, other)
    skeleton = _skeleton(folded)
    if skeleton and skeleton == _skeleton(other):
        # The same consonants with other vowels are as alike as a typo where one side was
        # written without vowels (an Arabic or Persian spelling transliterated: `zynb`), or
        # where they start alike and have three or more (`mohamed`, `muhammad`).
        vowelless = _VOWELS.isdisjoint(typed) or _VOWELS.isdisjoint(stored)
        if (vowelless and len(skeleton) >= 2) or (len(skeleton) >= 3 and folded[0] == other[0]):
            similarity = max(similarity, TOKEN_THRESHOLD)
    return similarity


def name_score(typed_key: str, stored_key: str) -> float:
    """How well a typed name (its `name_key`) matches a stored one, 0-100.

    Every typed part must be found among the stored parts (in any order, a part may be left
    out: `Zeinab Karawi` finds `Zainab Qarawi-Testperson`), after folding spelling variants and
    allowing typos; else the whole names are compared, which catches parts run together or
    split apart.
    """
    typed, stored = typed_key.split(), stored_key.split()
    if not typed or not stored:
        return 0.0
    best = [max(_token_score(t, s) for s in stored) for t in typed]
    if min(best) >= TOKEN_THRESHOLD:
        return round(sum(best) / len(best), 1)
    whole = fuzz.ratio("".join(fold(t) for t in typed), "".join(fold(s) for s in stored))
    return round(whole, 1) if whole >= NAME_THRESHOLD else 0.0


def name_scores(typed_key: str, stored_keys: Sequence[str]) -> list[float]:
    """`name_score` of a typed name against many stored ones at once (search: every person).

    The same scores, computed mostly inside rapidfuzz: each typed part is compared once with
    each distinct stored part (most name parts recur across people), and the whole-name
    comparison runs over the list in one call; each stored name is split and folded once per
    process (`_forms`).
    """
    typed = typed_key.split()
    result = [0.0] * len(stored_keys)
    if not typed:
        return result
    forms = [_forms(key) for key in stored_keys]
    parts = sorted(set().union(*(f[0] for f in forms)))
    folded_parts = [fold(p) for p in parts]
    found: list[dict[str, float]] = []
    for t in typed:
        near = process.extract(
            fold(t), folded_parts, scorer=fuzz.ratio, score_cutoff=_PREFILTER, limit=None
        )
        scores = {parts[i]: _token_score(t, parts[i]) for _, _, i in near}
        found.append({p: v for p, v in scores.items() if v >= TOKEN_THRESHOLD})
    if all(found):
        first = found[0].keys()
        for index, (stored, _) in enumerate(forms):
            if first.isdisjoint(stored):
                continue
            best = [max(f.get(p, 0.0) for p in stored) for f in found]
            if min(best) >= TOKEN_THRESHOLD:
                result[index] = round(sum(best) / len(best), 1)
    # The whole names, for the rest (parts run together or split apart).
    rest = [i for i, score in enumerate(result) if score == 0.0 and forms[i][0]]
    for _, whole, j in process.extract(
        "".join(fold(t) for t in typed),
        [forms[i][1] for i in rest],
        scorer=fuzz.ratio,
        score_cutoff=NAME_THRESHOLD,
        limit=None,
    ):
        result[rest[j]] = round(whole, 1)
    return result


@lru_cache(maxsize=262144)
def _forms(key: str) -> tuple[frozenset[str], str]:
    """A stored `name_key`'s parts, and its folded parts run together."""
    parts = key.split()
    return frozenset(parts), "".join(fold(p) for p in parts)


_PREFILTER = 50.0
"""Part similarity below which `_token_score` cannot reach `TOKEN_THRESHOLD` (consonant
matches included): a cheap first pass."""


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


def _conditions(person: PersonRecord) -> list[ColumnElement[bool]]:
    """Who may be a duplicate of `person` (besides itself), as SQL; `_candidates` in Python."""
    conditions = []
    if person.biometric_ref:
        conditions.append(col(PersonRecord.biometric_ref) == person.biometric_ref)
    if person.date_of_birth is not None:
        # Same birth year covers exact and day/month-swapped dates; the index makes it cheap.
        start = _year_start(person.date_of_birth)
        conditions.append(
            col(PersonRecord.date_of_birth).between(start, start + timedelta(days=366))
        )
    if person.nationality and person.date_of_birth is None:
        conditions.append(col(PersonRecord.nationality) == person.nationality)
    return conditions


def _year_start(born: date) -> date:
    return born.replace(month=1, day=1)


def find_matches(session: Session, person: PersonRecord) -> list[Match]:
    """Likely duplicates of `person` among every other registered person."""
    conditions = _conditions(person)
    if not conditions:
        return []
    others = session.exec(
        select(PersonRecord).where(PersonRecord.case_id != person.case_id, or_(*conditions))
    ).all()
    return _ranked(person, others)


def _ranked(person: PersonRecord, others: Sequence[PersonRecord]) -> list[Match]:
    matches = [m for other in others if (m := score(person, other)) is not None]
    return sorted(matches, key=lambda m: -m.score)


class _Candidates:
    """Persons loaded once for a group of checks, found again by `_conditions`' tests."""

    def __init__(self, others: Sequence[PersonRecord]) -> None:
        dated = sorted((p for p in others if p.date_of_birth is not None), key=_born)
        self.dated = dated
        self.births = [_born(p) for p in dated]
        self.by_biometric: dict[str, list[PersonRecord]] = defaultdict(list)
        self.by_nationality: dict[str, list[PersonRecord]] = defaultdict(list)
        for p in others:
            if p.biometric_ref:
                self.by_biometric[p.biometric_ref].append(p)
            if p.nationality:
                self.by_nationality[p.nationality].append(p)

    def of(self, person: PersonRecord) -> list[PersonRecord]:
        """Those `find_matches` would select for `person` (if they were all it selects from)."""
        found: dict[str, PersonRecord] = {}
        if person.biometric_ref:
            found.update((p.case_id, p) for p in self.by_biometric[person.biometric_ref])
        if person.date_of_birth is not None:
            start = _year_start(person.date_of_birth)
            low = bisect_left(self.births, start)
            high = bisect_right(self.births, start + timedelta(days=366))
            found.update((p.case_id, p) for p in self.dated[low:high])
        elif person.nationality:
            found.update((p.case_id, p) for p in self.by_nationality[person.nationality])
        found.pop(person.case_id, None)
        return list(found.values())


def _born(p: PersonRecord) -> date:
    assert p.date_of_birth is not None
    return p.date_of_birth


def record_matches(engine: Engine, case_id: str) -> list[DuplicateRecord]:
    """Store pending duplicate reviews for a just-registered case (once per pair)."""
    with Session(engine, expire_on_commit=False) as session:
        created = record_in(session, case_id)
        session.commit()
    return created


def record_in(session: Session, case_id: str) -> list[DuplicateRecord]:
    """`record_matches` in the caller's transaction (the caller commits): the reviews added."""
    person = session.get(PersonRecord, case_id)
    if person is None:
        return []
    existing = set(
        session.exec(
            select(DuplicateRecord.other_case_id).where(DuplicateRecord.case_id == case_id)
        ).all()
    )
    return _add(session, case_id, find_matches(session, person), existing)


def record_group(session: Session, case_ids: Sequence[str]) -> dict[str, list[DuplicateRecord]]:
    """`record_in` for each of `case_ids`, with three queries for the group; the caller commits.

    The same reviews as checking the cases one after the other in one transaction: a check
    adds reviews of its own case only, which no other check of the group reads.
    """
    persons = session.exec(select(PersonRecord).where(col(PersonRecord.case_id).in_(case_ids)))
    by_id = {p.case_id: p for p in persons.all()}
    existing: dict[str, set[str]] = defaultdict(set)
    for case_id, other in session.exec(
        select(DuplicateRecord.case_id, DuplicateRecord.other_case_id).where(
            col(DuplicateRecord.case_id).in_(case_ids)
        )
    ).all():
        existing[case_id].add(other)
    conditions = [c for p in by_id.values() for c in _conditions(p)]
    others = session.exec(select(PersonRecord).where(or_(*conditions))).all() if conditions else []
    candidates = _Candidates(others)
    created: dict[str, list[DuplicateRecord]] = {}
    for case_id in case_ids:
        person = by_id.get(case_id)
        if person is None:
            created[case_id] = []
            continue
        mine = candidates.of(person) if _conditions(person) else []
        created[case_id] = _add(session, case_id, _ranked(person, mine), existing[case_id])
    return created


def _add(
    session: Session, case_id: str, matches: list[Match], existing: set[str]
) -> list[DuplicateRecord]:
    created = []
    for match in matches:
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
    return created
