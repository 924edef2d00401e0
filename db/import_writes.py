"""The bulk import's read-model write: many opened cases in one transaction, table by table.

`asylumflow import` opens thousands of cases whose read-model rows do not exist yet. Writing
each through `db.projection.write_projection` costs a dozen statements and a commit per case,
and on a 2-core machine every millisecond of the importer's CPU is taken from the Temporal
server and the worker. Here the cases opened meanwhile are written together: one multi-row
statement per table (events, case rows, deadlines, statistics facts, the rollup, intents,
audit records), then the registration's duplicate check per case, and one commit. A case whose
row already exists (a resumed import, a repair that got there first) goes through
`write_projection` in the same transaction instead: the multi-row path is only for rows this
transaction inserted, and writes what `write_projection` would write for them.

All or nothing: a failure rolls the whole group back, and the caller writes its cases one by
one (`tools.importer.write_row`); a case counts as imported once its case row is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from db.duplicates import record_group
from db.engine import upsert_into
from db.projection import deadline_values, event_values, insert_or_remark, write_projection
from db.stat_facts import (
    REPLAYED,
    Rollup,
    apply_rollup,
    case_facts,
    event_row,
    fact_rows,
    refresh_facts,
)
from db.tables import (
    AuditRecord,
    CaseEventRecord,
    CaseRecord,
    CaseStatFactRecord,
    DeadlineRecord,
    DuplicateRecord,
    ProjectionIntentRecord,
)
from models.messages import ProjectionBatch

_CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
_EVENTS = SQLModel.metadata.tables[CaseEventRecord.__tablename__]
_DEADLINES = SQLModel.metadata.tables[DeadlineRecord.__tablename__]
_FACTS = SQLModel.metadata.tables[CaseStatFactRecord.__tablename__]
_INTENTS = SQLModel.metadata.tables[ProjectionIntentRecord.__tablename__]
_AUDIT = SQLModel.metadata.tables[AuditRecord.__tablename__]


@dataclass(frozen=True)
class Opened:
    """One case the import opened: what its update handed back, and what to do after."""

    case_id: str
    batch: ProjectionBatch | None
    """The read-model batch (None: already written, as for a case opened with no act)."""
    intent_id: int
    registered: bool
    """Its acts hold a registration: the duplicate check runs."""


def write_opened(
    engine: sa.engine.Engine, actor: str, cases: Sequence[Opened]
) -> dict[str, list[DuplicateRecord]]:
    """Write the cases' read-model batches, drop their intents, audit and check them; one commit.

    Returns the duplicate reviews stored, by case id (registered cases only).
    """
    with Session(engine, expire_on_commit=False) as session:
        write_batches(session, [c.batch for c in cases if c.batch is not None])
        session.execute(sa.delete(_INTENTS).where(_INTENTS.c.id.in_([c.intent_id for c in cases])))
        _audit(session, actor, [c.case_id for c in cases])
        found = record_group(session, [c.case_id for c in cases if c.registered])
        session.commit()
    return found


def write_batches(session: Session, batches: Sequence[ProjectionBatch]) -> None:
    """What `write_projection` writes for each batch, with one statement per table for new cases.

    The caller commits. Batches are of distinct cases.
    """
    if not batches:
        return
    events = [event_values(b.case.id, e) for b in batches for e in b.events]
    if events:
        session.execute(insert_or_remark(session), events)
    # A new row takes its reference from the batch; a batch without one (a case begun before
    # references) goes the way `write_projection` takes it, as does a row that exists.
    candidates = [b for b in batches if b.case.reference is not None]
    fresh: set[str] = set()
    if candidates:
        dialect = session.get_bind().dialect.name
        insert = upsert_into(dialect, _CASES).on_conflict_do_nothing(index_elements=["id"])
        returned = session.execute(
            insert.returning(_CASES.c.id),
            [b.case.model_dump() | {"stage": b.case.stage.value} for b in candidates],
        )
        fresh = {str(r[0]) for r in returned}
    for b in batches:
        if b.case.id not in fresh:
            write_projection(session, b)  # its events again: skipped by their key
    new = [b for b in batches if b.case.id in fresh]
    if not new:
        return
    session.execute(sa.delete(_DEADLINES).where(_DEADLINES.c.case_id.in_([b.case.id for b in new])))
    deadlines = [deadline_values(b.case.id, d) for b in new for d in b.deadlines]
    if deadlines:
        session.execute(sa.insert(_DEADLINES), deadlines)
    _facts(session, new)


def _facts(session: Session, new: Sequence[ProjectionBatch]) -> None:
    """`refresh_facts` for cases whose row this transaction inserted, computed from the batch.

    A new row's events are the batch's (they are written together), so the facts come from
    the batch without reading them back; a case that somehow has stored facts already is
    refreshed the ordinary way.
    """
    counted = [b for b in new if not REPLAYED.isdisjoint(e.action for e in b.events)]
    if not counted:
        return
    ids = [b.case.id for b in counted]
    stored = set(
        session.execute(sa.select(_FACTS.c.case_id).where(_FACTS.c.case_id.in_(ids))).scalars()
    )
    rows: list[dict[str, Any]] = []
    change = Rollup()
    for b in counted:
        if b.case.id in stored:
            refresh_facts(session, b.case.id)
            continue
        replayed = sorted(
            (e for e in b.events if e.action in REPLAYED and not e.retracted), key=lambda e: e.seq
        )
        facts = case_facts(
            [
                event_row(
                    b.case.id, e.seq, e.action, e.event.value if e.event else None, e.on, e.data
                )
                for e in replayed
            ]
        )
        for row in fact_rows(b.case.id, b.case.jurisdiction, facts):
            rows.append(row)
            change.add(row)
    if rows:
        conn = session.connection()
        conn.execute(sa.insert(_FACTS), rows)
        apply_rollup(conn, change.changes())


def _audit(session: Session, actor: str, case_ids: list[str]) -> None:
    """`db.imports.audit_imported` for each case: one record per case, once."""
    recorded = set(
        session.execute(
            sa.select(_AUDIT.c.case_id).where(
                _AUDIT.c.case_id.in_(case_ids), _AUDIT.c.method == "IMPORT"
            )
        ).scalars()
    )
    at = datetime.now(UTC)
    rows = [
        {
            "at": at,
            "user_name": actor,
            "role": "import",
            "kind": "change",
            "method": "IMPORT",
            "route": "asylumflow import",
            "case_id": case_id,
            "status": 201,
            "request_id": None,
        }
        for case_id in case_ids
        if case_id not in recorded
    ]
    if rows:
        session.execute(sa.insert(_AUDIT), rows)
