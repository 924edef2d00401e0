"""Reception centres and detention (issue #19): read-side queries and the API's writes.

Occupancy, over-capacity and the detained list come from the read model's `cases` rows, which
the workflows project (`accommodation_centre`, `detention`); the centres themselves and the
detention grounds are SQL only. A centre's occupants are ordered by the day they were given
their place (then by case id): the first `capacity` of them fill it, the rest are
`over_capacity`, so ending one accommodation frees a place for the next in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from core.sealed import seal, unseal
from core.settings import Settings
from db.tables import CaseRecord, DeadlineRecord, DetentionOrderRecord, ReceptionCentreRecord
from models.enums import ClockName, ClockStatus, Stage

GROUND_PURPOSE = "detention_orders.ground"
"""The sealed column's purpose (AES-GCM associated data: a value moved elsewhere fails)."""

_CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
_DEADLINES = SQLModel.metadata.tables[DeadlineRecord.__tablename__]
_OCCUPYING = sa.and_(
    _CASES.c.accommodation_centre.is_not(None), _CASES.c.stage != Stage.CLOSED.value
)
"""A closed case's workflow has ended: its place is no longer held."""


class CentreError(ValueError):
    """A centre's id is unknown, or is taken when creating one."""


@dataclass(frozen=True)
class Occupant:
    """One case holding a place in a centre."""

    case_id: str
    reference: str | None
    since: date | None
    over_capacity: bool


@dataclass(frozen=True)
class CentreView:
    """A centre with its occupancy as the read model has it now."""

    id: str
    name: str
    jurisdiction: str
    capacity: int
    occupants: list[Occupant]

    @property
    def occupancy(self) -> int:
        """Places taken (over capacity included)."""
        return len(self.occupants)

    @property
    def over_capacity(self) -> bool:
        """More people than places."""
        return self.occupancy > self.capacity


def save_centre(
    engine: Engine,
    *,
    centre_id: str,
    name: str | None,
    jurisdiction: str | None,
    capacity: int | None,
    by: str,
    create: bool,
) -> ReceptionCentreRecord:
    """Create a centre (`create`: its id must be new) or update the fields given."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(ReceptionCentreRecord, centre_id)
        if create and row is not None:
            raise CentreError(f"centre {centre_id!r} exists already")
        if not create and row is None:
            raise CentreError(f"no centre {centre_id!r}")
        if row is None:
            if name is None or jurisdiction is None or capacity is None:
                raise CentreError("a new centre needs a name, a jurisdiction and a capacity")
            row = ReceptionCentreRecord(
                id=centre_id,
                name=name,
                jurisdiction=jurisdiction,
                capacity=capacity,
                updated_by=by,
                updated_at=datetime.now(UTC),
            )
        else:
            row.name = name if name is not None else row.name
            row.jurisdiction = jurisdiction if jurisdiction is not None else row.jurisdiction
            row.capacity = capacity if capacity is not None else row.capacity
            row.updated_by, row.updated_at = by, datetime.now(UTC)
        session.add(row)
        session.commit()
        return row


def centre_exists(engine: Engine, centre_id: str) -> bool:
    """Whether a centre with this id is known."""
    with Session(engine) as session:
        return session.get(ReceptionCentreRecord, centre_id) is not None


def centres(engine: Engine, jurisdiction: str | None = None) -> list[CentreView]:
    """Every centre (of one jurisdiction) with its occupants, in id order."""
    with Session(engine) as session:
        query = select(ReceptionCentreRecord).order_by(ReceptionCentreRecord.id)
        if jurisdiction is not None:
            query = query.where(ReceptionCentreRecord.jurisdiction == jurisdiction)
        rows = session.exec(query).all()
        c = _CASES.c
        occupied = session.execute(
            sa.select(c.accommodation_centre, c.id, c.reference, c.accommodated_since)
            .where(_OCCUPYING)
            .order_by(c.accommodation_centre, c.accommodated_since, c.id)
        ).all()
    by_centre: dict[str, list[tuple[str, str | None, date | None]]] = {}
    for centre_id, case_id, reference, since in occupied:
        by_centre.setdefault(str(centre_id), []).append((case_id, reference, since))
    return [
        CentreView(
            id=row.id,
            name=row.name,
            jurisdiction=row.jurisdiction,
            capacity=row.capacity,
            occupants=[
                Occupant(case_id, reference, since, over_capacity=index >= row.capacity)
                for index, (case_id, reference, since) in enumerate(by_centre.get(row.id, []))
            ],
        )
        for row in rows
    ]


def case_over_capacity(engine: Engine, case_id: str) -> bool:
    """Whether the case's place is one beyond its centre's capacity (read model, now)."""
    with Session(engine) as session:
        case = session.get(CaseRecord, case_id)
        if case is None or case.accommodation_centre is None:
            return False
        centre = case.accommodation_centre
    return any(
        o.case_id == case_id and o.over_capacity
        for view in centres(engine)
        if view.id == centre
        for o in view.occupants
    )


def record_detention_ground(
    engine: Engine,
    *,
    case_id: str,
    ordered_on: date,
    alternative: bool,
    ground: str,
    by: str,
    settings: Settings | None = None,
) -> None:
    """Keep a detention order's ground in SQL, sealed where a key is set.

    Once per order (case, day, kind): a retried request (the same `Idempotency-Key`, which
    Temporal answers with the first result) does not store it twice.
    """
    sealed = seal(ground, GROUND_PURPOSE, settings)
    assert sealed is not None
    with Session(engine) as session:
        stored = session.exec(
            select(DetentionOrderRecord).where(
                DetentionOrderRecord.case_id == case_id,
                DetentionOrderRecord.ordered_on == ordered_on,
                DetentionOrderRecord.alternative == alternative,
            )
        ).first()
        if stored is not None:
            return
        session.add(
            DetentionOrderRecord(
                case_id=case_id,
                ordered_on=ordered_on,
                alternative=alternative,
                ground=sealed,
                recorded_by=by,
                recorded_at=datetime.now(UTC),
            )
        )
        session.commit()


def detention_grounds(
    engine: Engine, case_id: str, settings: Settings | None = None
) -> list[tuple[date, bool, str]]:
    """The case's detention orders as (ordered on, alternative, ground), oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(DetentionOrderRecord)
            .where(DetentionOrderRecord.case_id == case_id)
            .order_by(DetentionOrderRecord.id)  # type: ignore[arg-type]
        ).all()
    return [
        (r.ordered_on, r.alternative, unseal(r.ground, GROUND_PURPOSE, settings) or "")
        for r in rows
    ]


@dataclass(frozen=True)
class Detained:
    """One person detained or in an alternative to detention, for the supervisor's list."""

    case_id: str
    reference: str | None
    jurisdiction: str
    stage: str
    detention: str
    since: date | None
    next_review_due: date | None
    review_status: str | None
    vulnerable: bool


_REVIEW_PENDING = (ClockStatus.RUNNING.value, ClockStatus.PAUSED.value, ClockStatus.EXPIRED.value)


def detained(engine: Engine, jurisdiction: str | None = None) -> list[Detained]:
    """Every open case with a detention or alternative in force, longest detained first.

    The next review date is the `detention_review` clock's due day while a review is still to
    come (running, or expired: overdue); none once reviewed or where the pack sets no figure.
    """
    c, d = _CASES.c, _DEADLINES.c
    review = sa.and_(
        d.case_id == c.id,
        d.clock == ClockName.DETENTION_REVIEW.value,
        d.status.in_(_REVIEW_PENDING),
    )
    query = (
        sa.select(
            c.id,
            c.reference,
            c.jurisdiction,
            c.stage,
            c.detention,
            c.detention_since,
            d.due,
            d.status,
            c.vulnerable,
        )
        .select_from(_CASES.outerjoin(_DEADLINES, review))
        .where(c.detention.is_not(None), c.stage != Stage.CLOSED.value)
        .order_by(c.detention_since, c.id)
    )
    if jurisdiction is not None:
        query = query.where(c.jurisdiction == jurisdiction)
    with Session(engine) as session:
        rows = session.execute(query).all()
    return [Detained(*row) for row in rows]


def reception_counts(engine: Engine, jurisdiction: str | None = None) -> dict[str, int]:
    """Now: people receiving material reception conditions (a place), over capacity, detained."""
    views = [v for v in centres(engine) if jurisdiction in (None, v.jurisdiction)]
    held = detained(engine, jurisdiction)
    return {
        "accommodated": _accommodated(engine, jurisdiction),
        "over_capacity": sum(1 for v in views for o in v.occupants if o.over_capacity),
        "centres_over_capacity": sum(1 for v in views if v.over_capacity),
        "detained": sum(1 for d in held if d.detention == "detained"),
        "alternative_to_detention": sum(1 for d in held if d.detention == "alternative"),
        "vulnerable_in_detention": sum(
            1 for d in held if d.detention == "detained" and d.vulnerable
        ),
    }


def _accommodated(engine: Engine, jurisdiction: str | None) -> int:
    query = sa.select(sa.func.count()).select_from(_CASES).where(_OCCUPYING)
    if jurisdiction is not None:
        query = query.where(_CASES.c.jurisdiction == jurisdiction)
    with Session(engine) as session:
        return int(session.execute(query).scalar_one())
