"""Nightly reconciliation: compare the read model with the workflows and repair drift."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.client import Client

from activities.projection import ReadModelActivities
from db.projection import full_batch
from db.tables import CaseRecord, DeadlineRecord
from models.lifecycle import CaseState
from models.messages import ProjectionBatch
from models.reports import ReconcileReport, Repair

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
)


class ReconcileActivities:
    """Reads every case workflow's state and re-projects the cases whose rows differ."""

    def __init__(self, engine: Engine, client: Client) -> None:
        self.engine = engine
        self.client = client
        self.projector = ReadModelActivities(engine)

    def _differences(self, state: CaseState, now: datetime) -> tuple[list[str], ProjectionBatch]:
        batch = full_batch(state, now)
        row, deadlines = batch.case, batch.deadlines
        with Session(self.engine) as session:
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

    @activity.defn(name="reconcile_read_model")
    async def reconcile_read_model(self, task_queue: str) -> ReconcileReport:
        """Compare every case workflow on `task_queue` with its read-model row; repair drift."""
        from workflows.case import CaseWorkflow

        report = ReconcileReport()
        query = f'WorkflowType = "CaseWorkflow" AND TaskQueue = "{task_queue}"'
        async for execution in self.client.list_workflows(query):
            report.checked += 1
            handle = self.client.get_workflow_handle_for(CaseWorkflow.run, execution.id)
            # Read before the state (see below): a write made after this is newer than it.
            seen = self._stored_seq(execution.id.removeprefix("case-"))
            try:
                state = await handle.query(CaseWorkflow.case_state)
            except Exception:  # a case we cannot read tonight is reported, not fatal
                report.unreachable.append(execution.id.removeprefix("case-"))
                continue
            diffs, batch = self._differences(state, datetime.now(UTC))
            if diffs:
                # The projection is idempotent: re-applying the whole case only adds what is
                # missing and resets the row and deadlines to the workflow's truth, also a row
                # whose seq drifted above it (`seen`). A row the API wrote after `seen` was
                # read holds a change newer than this state: its seq is higher than both, so
                # write_projection's conditional update leaves it alone.
                batch.case.last_seq = max(batch.case.last_seq, seen)
                self.projector.project_case(batch)
                report.repaired.append(Repair(case_id=state.case_id, differences=diffs))
            activity.heartbeat(report.checked)
        report.finished_at = datetime.now(UTC)
        return report

    def _stored_seq(self, case_id: str) -> int:
        with Session(self.engine) as session:
            stored = session.get(CaseRecord, case_id)
            return stored.last_seq if stored else 0
