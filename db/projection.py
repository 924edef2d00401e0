"""The read-model write: a batch of a case's accepted events, its row and its deadlines.

Shared by the projection activity, the API (which writes the batch an update hands back) and
the repairs (`db.intents`, the nightly reconciliation).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from db.engine import upsert_into
from db.references import registered_reference
from db.stat_facts import refresh_facts
from db.tables import CaseEventRecord, CaseRecord, DeadlineRecord
from models.case_state import CaseEvent, CaseState
from models.deadlines import Deadline
from models.messages import ProjectionBatch, case_row

_CASES = SQLModel.metadata.tables[CaseRecord.__tablename__]
_EVENTS = SQLModel.metadata.tables[CaseEventRecord.__tablename__]
_DEADLINES = SQLModel.metadata.tables[DeadlineRecord.__tablename__]


def full_batch(state: CaseState, now: datetime) -> ProjectionBatch:
    """The whole case as one batch (every event), for repairs from the workflow's state."""
    row, deadlines = case_row(state, now)
    return ProjectionBatch(case=row, events=state.history, deadlines=deadlines)


def write_projection(session: Session, batch: ProjectionBatch) -> None:
    """Upsert the case row, insert new events by (case id, seq), replace its deadlines.

    Idempotent, and shared by the projection activity and the API (which writes the batch an
    update hands back, in the request). A batch older than what the row already shows (a late
    retry, or a workflow projection overtaken by the API's) only adds missing events, so the row
    never goes back in time. The caller commits.

    SQL Core statements, not ORM objects: this runs inside every API action, and the unit of
    work's bookkeeping cost more than the statements themselves.
    """
    row = batch.case
    if batch.events:
        # Events already stored (a retry, or an overlap with another writer) are skipped by the
        # primary key: no read of the history first.
        session.execute(insert_or_remark(session), [event_values(row.id, e) for e in batch.events])
    if _upsert_unless_newer(session, row.model_dump() | {"stage": row.stage.value}):
        session.execute(_DELETE_DEADLINES, {"where_case": row.id})
        if batch.deadlines:
            session.execute(
                _INSERT_DEADLINES, [deadline_values(row.id, d) for d in batch.deadlines]
            )
    # The statistics' facts follow the events (skipped unless the batch holds a replayed one).
    refresh_facts(session, row.id, actions=[e.action for e in batch.events])


# The statements of this write are built once and their values passed as parameters: built per
# call, with the values inside, SQLAlchemy derived each one's cache key again, a type per bound
# value, which was half the projection activity's CPU in a timer storm (bench/RESULTS.md).
_DELETE_DEADLINES = sa.delete(_DEADLINES).where(_DEADLINES.c.case_id == sa.bindparam("where_case"))
_INSERT_DEADLINES = sa.insert(_DEADLINES)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@cache
def _insert_case(dialect: str) -> sa.Insert:
    """`INSERT INTO cases ... ON CONFLICT (id) DO NOTHING`; its columns are the parameters'."""
    return cast(
        sa.Insert, upsert_into(dialect, _CASES).on_conflict_do_nothing(index_elements=["id"])
    )


@cache
def _update_case(columns: tuple[str, ...]) -> sa.Update:
    """`UPDATE cases SET <columns> WHERE id = :where_id AND last_seq <= :where_seq`."""
    return (
        sa.update(_CASES)
        .where(
            _CASES.c.id == sa.bindparam("where_id"),
            _CASES.c.last_seq <= sa.bindparam("where_seq"),
        )
        .values({c: sa.bindparam(f"set_{c}", type_=_CASES.c[c].type) for c in columns})
    )


def insert_or_remark(session: Session) -> sa.Insert:
    """Insert events by (case id, seq); a stored one changes only in its retraction mark.

    An entry is immutable but for that mark (a late act can retract it, and a later record
    can give a displaced act its place back), so a retry or an overlap writes nothing new.
    """
    return _insert_or_remark(_dialect(session))


@cache
def _insert_or_remark(dialect: str) -> sa.Insert:
    insert = upsert_into(dialect, _EVENTS)
    return cast(
        sa.Insert,
        insert.on_conflict_do_update(
            index_elements=["case_id", "seq"],
            set_={
                "retracted": insert.excluded.retracted,
                "retracted_by": insert.excluded.retracted_by,
            },
        ),
    )


def event_values(case_id: str, e: CaseEvent) -> dict[str, Any]:
    """A `case_events` row for a core (executemany) insert of `insert_or_remark`."""
    return {
        "case_id": case_id,
        "seq": e.seq,
        "actor": e.actor,
        "action": e.action,
        "event": e.event.value if e.event else None,
        "on": e.on,
        "recorded_at": e.recorded_at,
        "note": e.note,
        "data": e.data,
        "derived": e.derived,
        "retracted": e.retracted,
        "retracted_by": e.retracted_by,
    }


def deadline_values(case_id: str, d: Deadline) -> dict[str, Any]:
    """A `deadlines` row for a core (executemany) insert."""
    return {
        "case_id": case_id,
        "clock": d.clock.value,
        "due": d.due,
        "status": d.status.value,
        "actor": d.actor.value,
        "kind": d.kind.value,
        "fires_at": d.fires_at,
        "rule": d.rule,
        "pack": d.pack,
        "provenance": d.model_dump(mode="json"),
    }


def _upsert_unless_newer(session: Session, values: dict[str, Any]) -> bool:
    """Write the case row unless the stored one is newer; whether this batch's row is current.

    A conditional UPDATE rather than a read then a write: one statement fewer on every API
    action, and on PostgreSQL the row lock makes the seq check and the write one step, so of
    two writers of the same case the older batch can never overwrite the newer row.
    """
    insert = _insert_case(_dialect(session))
    if values.get("reference") is None:
        # A case begun before references: its workflow does not know it. The stored row keeps
        # the one it was given; a new row takes it from the registry (`db.references`).
        values = {k: v for k, v in values.items() if k != "reference"}
        insert = insert.values(reference=registered_reference(values["id"]))
    update = _update_case(tuple(values))
    params = {f"set_{c}": v for c, v in values.items()}
    params |= {"where_id": values["id"], "where_seq": values["last_seq"]}
    if _rowcount(session.execute(update, params)):
        return True
    if _rowcount(session.execute(insert, values)):
        return True
    # Either the stored row is newer, or another writer inserted it in between: try once more.
    return bool(_rowcount(session.execute(update, params)))


def _rowcount(result: sa.Result[Any]) -> int:
    assert isinstance(result, sa.CursorResult)  # DML statements
    return result.rowcount
