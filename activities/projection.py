"""The read-model projection activity: one call per batch of accepted events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select
from temporalio import activity

from activities.readmodel import CaseEventRecord, CaseRecord, DeadlineRecord
from models.lifecycle import CaseState
from models.messages import ProjectionBatch, case_row


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
    """
    row = batch.case
    existing = session.get(CaseRecord, row.id)
    newer = existing is None or existing.last_seq <= row.last_seq
    known = set(
        session.exec(select(CaseEventRecord.seq).where(CaseEventRecord.case_id == row.id)).all()
    )
    for e in batch.events:
        if e.seq in known:
            continue
        session.add(
            CaseEventRecord(
                case_id=row.id,
                seq=e.seq,
                actor=e.actor,
                action=e.action,
                event=e.event.value if e.event else None,
                on=e.on,
                recorded_at=e.recorded_at,
                note=e.note,
                data=e.data,
            )
        )
    if newer:
        values = row.model_dump()
        values["stage"] = row.stage.value
        if existing is None:
            session.add(CaseRecord(**values))
        else:
            for key, value in values.items():
                setattr(existing, key, value)
        session.exec(delete(DeadlineRecord).where(col(DeadlineRecord.case_id) == row.id))
        for d in batch.deadlines:
            session.add(
                DeadlineRecord(
                    case_id=row.id,
                    clock=d.clock.value,
                    due=d.due,
                    status=d.status.value,
                    actor=d.actor.value,
                    kind=d.kind.value,
                    fires_at=d.fires_at,
                    rule=d.rule,
                    pack=d.pack,
                    provenance=d.model_dump(mode="json"),
                )
            )


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
