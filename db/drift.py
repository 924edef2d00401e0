"""Drift between the read model and a case workflow: what the nightly reconciliation compares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db.projection import full_batch
from db.tables import CaseRecord, DeadlineRecord
from models.case_state import CaseState
from models.messages import ProjectionBatch

COMPARED = (
    "stage",
    "procedure",
    "pack_id",
    "overdue",
    "presumed_abandoned",
    "entitled_blocked",
    "legal_aid_org",
    "assignee",
    "last_seq",
    # Issue #19: what occupancy and the detained list are counted from.
    "accommodation_centre",
    "detention",
)
"""The case row's columns that must agree with the workflow's state."""


def differences(
    engine: Engine, state: CaseState, now: datetime
) -> tuple[list[str], ProjectionBatch]:
    """How the stored case differs from `state` (empty: not at all), and the batch to fix it."""
    batch = full_batch(state, now)
    row, deadlines = batch.case, batch.deadlines
    with Session(engine) as session:
        stored = session.get(CaseRecord, state.case_id)
        if stored is None:
            return ["no read-model row"], batch
        diffs = []
        expected: dict[str, Any] = row.model_dump()
        expected["stage"] = row.stage.value
        for name in COMPARED:
            if getattr(stored, name) != expected[name]:
                diffs.append(f"{name}: {getattr(stored, name)!r} → {expected[name]!r}")
        stored_deadlines = {
            (d.clock, d.due, d.status)
            for d in session.exec(
                select(DeadlineRecord).where(DeadlineRecord.case_id == state.case_id)
            ).all()
        }
        wanted = {(d.clock.value, d.due, d.status.value) for d in deadlines}
        if stored_deadlines != wanted:
            diffs.append("deadlines differ")
    return diffs, batch


def stored_seq(engine: Engine, case_id: str) -> int:
    """The last event the read model holds for a case (0 if it has no row)."""
    with Session(engine) as session:
        stored = session.get(CaseRecord, case_id)
        return stored.last_seq if stored else 0
