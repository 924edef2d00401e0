"""The bulk import's bookkeeping (`asylumflow import`): which rows are in, and undoing a refusal.

The import keys each case by the row's `external_id` through the same idempotency records
`POST /cases` keeps for its `Idempotency-Key` (user = the import's actor, key =
`import:<external_id>`): that table already maps a key to its case id, so no table of its own
is needed. A row counts as imported once its case has a read-model row, which is written in
the transaction that ends the import of that case.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from db.tables import (
    AuditRecord,
    CaseRecord,
    CaseReferenceRecord,
    IdempotencyRecord,
    PersonRecord,
    ProjectionIntentRecord,
)

KEY_PREFIX = "import:"
"""The idempotency key of an imported row is this prefix and the row's `external_id`."""

_REFERENCES = SQLModel.metadata.tables[CaseReferenceRecord.__tablename__]
_INTENTS = SQLModel.metadata.tables[ProjectionIntentRecord.__tablename__]


def import_key(external_id: str) -> str:
    """The idempotency key of the row with this `external_id`."""
    return KEY_PREFIX + external_id


def imported_external_ids(engine: Engine, actor: str) -> set[str]:
    """The `external_id`s `actor` imported completely (their case is in the read model).

    One indexed query for the whole file, so a resumed import skips what it did without a
    round trip per row. A row whose key exists but whose case row does not (the import
    stopped between the two) is not in it: that row goes through again, idempotently.
    """
    query = select(IdempotencyRecord.key).join(*_IN_READ_MODEL).where(*_imported_by(actor))
    with Session(engine) as session:
        return {key.removeprefix(KEY_PREFIX) for key in session.exec(query).all()}


_IN_READ_MODEL = (CaseRecord, col(CaseRecord.id) == col(IdempotencyRecord.case_id))
"""The join of an import's key to its case's read-model row (which marks the row imported)."""


def _imported_by(actor: str) -> tuple[sa.ColumnElement[bool], ...]:
    """The import keys of `actor`'s rows."""
    return (
        col(IdempotencyRecord.user_name) == actor,
        col(IdempotencyRecord.key).startswith(KEY_PREFIX),
    )


def audit_unaudited(engine: Engine, actor: str) -> int:
    """Write the audit record of each case `actor` imported that has none; how many were.

    A case with no act is written (its row) when it is opened, as `POST /cases` writes it, and
    its audit record after that: an import that died in between left the case imported with no
    trace of who brought it in, and a resumed import skips it. It gets its record now.
    """
    audited = (
        select(AuditRecord.id)
        .where(
            col(AuditRecord.case_id) == col(IdempotencyRecord.case_id),
            AuditRecord.method == "IMPORT",
        )
        .exists()
    )
    query = (
        select(IdempotencyRecord.case_id)
        .join(*_IN_READ_MODEL)
        .where(*_imported_by(actor), sa.not_(audited))
    )
    with Session(engine) as session:
        missing = session.exec(query).all()
    for case_id in missing:
        audit_imported(engine, actor, case_id)
    return len(missing)


def discard_unopened(engine: Engine, case_id: str) -> None:
    """Remove what was stored for a case whose opening batch the workflow refused.

    The person, the import's key, pending intents and the reference link go; the reference's
    number is not handed out again (numbers are never reused). The caller has made sure the
    case holds no act, and removes its workflow.
    """
    with Session(engine) as session:
        session.execute(sa.delete(PersonRecord).where(col(PersonRecord.case_id) == case_id))
        session.execute(
            sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.case_id) == case_id)
        )
        session.execute(sa.delete(_INTENTS).where(_INTENTS.c.case_id == case_id))
        session.execute(sa.delete(_REFERENCES).where(_REFERENCES.c.case_id == case_id))
        session.commit()


def audit_imported(engine: Engine, actor: str, case_id: str) -> None:
    """The audit trail's record of a case the import opened, as `POST /cases` leaves one.

    The import does not pass through the API, whose middleware records every change: without
    this, 50,000 cases would have entered the system with no trace of who brought them in.
    The route is the command, so the log tells the import apart from the API's creations.
    """
    with Session(engine) as session:
        # Once per case: a write retried after a dropped connection must not record twice.
        recorded = select(AuditRecord.id).where(
            AuditRecord.case_id == case_id, AuditRecord.method == "IMPORT"
        )
        if session.exec(recorded).first() is not None:
            return
        session.add(
            AuditRecord(
                at=datetime.now(UTC),
                user_name=actor,
                role="import",
                kind="change",
                method="IMPORT",
                route="asylumflow import",
                case_id=case_id,
                status=201,
            )
        )
        session.commit()
