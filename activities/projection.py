"""The read-model projection activity: one call per batch of accepted events."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel
from temporalio import activity

from activities.readmodel import CaseEventRecord, CaseRecord, DeadlineRecord
from activities.stat_facts import refresh_facts
from models.lifecycle import CaseState
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
    stored_seq = session.execute(
        sa.select(_CASES.c.last_seq).where(_CASES.c.id == row.id)
    ).scalar_one_or_none()
    if batch.events:
        # Only the batch's seqs are looked up: a long history is not read on every write.
        known = set(
            session.execute(
                sa.select(_EVENTS.c.seq).where(
                    _EVENTS.c.case_id == row.id,
                    _EVENTS.c.seq.in_([e.seq for e in batch.events]),
                )
            ).scalars()
        )
        new = [
            {
                "case_id": row.id,
                "seq": e.seq,
                "actor": e.actor,
                "action": e.action,
                "event": e.event.value if e.event else None,
                "on": e.on,
                "recorded_at": e.recorded_at,
                "note": e.note,
                "data": e.data,
            }
            for e in batch.events
            if e.seq not in known
        ]
        if new:
            session.execute(sa.insert(_EVENTS), new)
    if stored_seq is None or stored_seq <= row.last_seq:
        values = row.model_dump()
        values["stage"] = row.stage.value
        if stored_seq is None:
            session.execute(sa.insert(_CASES).values(**values))
        else:
            session.execute(sa.update(_CASES).where(_CASES.c.id == row.id).values(**values))
        session.execute(sa.delete(_DEADLINES).where(_DEADLINES.c.case_id == row.id))
        if batch.deadlines:
            session.execute(
                sa.insert(_DEADLINES),
                [
                    {
                        "case_id": row.id,
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
                    for d in batch.deadlines
                ],
            )
    # The statistics' facts follow the events (skipped unless the batch holds a replayed one).
    refresh_facts(session, row.id, actions=[e.action for e in batch.events])


class ReadModelActivities:
    """Projects case workflows into SQL. Idempotent: retries and replays never duplicate."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="project_case")
    def project_case(self, batch: ProjectionBatch) -> None:
        """Write one batch (see `write_projection`) in a transaction of its own."""
        with Session(self.engine) as session:
            write_projection(session, batch)
            session.commit()
